// nbstream live view: the front end of nbstream.notebook.widget.StreamView, an ES module in
// the anywidget style (initialize once per model, render per view). esbuild bundles it with
// uPlot (the chart) and the CSS into nbstream/notebook/static/: nothing is fetched at run time.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import "./widget.css";
import {
  applyDelta, applySnapshot, changelogText, createStore, fmtCell, fmtDuration, fmtNumber, fmtTime,
  isMillis, pickKeys, aligned, barsOf, progressText, seriesOf, tableOrder, timeTicks, toCsv, TOP_KEYS,
} from "./store.js";

export { applyDelta, applySnapshot, createStore } from "./store.js";

const stores = new Map(); // model uid -> store
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const LIVE = new Set(["running", "restarting", "stopping"]);
const HOT_MS = 900; // how long a changed row stays highlighted
const CHART_MS = 250; // the chart is redrawn at most this often
const RERANK_MS = 5000; // the top keys are ranked again this often
const STATE_MIME = "application/vnd.jupyter.widget-state+json";
const SAVED_CLASS = "nbstream-saved-view"; // the HTML widget that stands in for a view in a saved notebook

function storeOf(model) {
  const uid = model.get("uid");
  let store = stores.get(uid);
  if (!store) {
    store = createStore(model.get("limit") || 1000);
    stores.set(uid, store);
  }
  return store;
}

function notify(store, event) {
  for (const listener of store.listeners) listener(event);
}

function send(model, msg) {
  try { model.send(msg); } catch (e) { /* no kernel: a view restored from a saved notebook */ }
}

// -- results that outlive the kernel ---------------------------------------------------------
// When the notebook is saved (and when the job ends), the model's static snapshot is written
// into the notebook's widget state as a plain HTML widget under this model's id: opened
// again without this kernel, JupyterLab (and nbviewer) show it instead of "model not found";
// with the kernel there, the live model wins.

function notebookOf(model) {
  const context = model.widget_manager && model.widget_manager.context;
  return context && context.model && context.saveState ? context : null;
}

function outputModelIds(nb) {
  const ids = new Set();
  const cells = nb.cells;
  for (let i = 0; cells && i < cells.length; i += 1) {
    const outputs = cells.get(i).outputs;
    for (let j = 0; outputs && j < outputs.length; j += 1) {
      const data = outputs.get(j).data || {};
      const view = data["application/vnd.jupyter.widget-view+json"];
      if (view && view.model_id) ids.add(view.model_id);
    }
  }
  return ids;
}

export function snapshotState(html, status, when) {
  const note = LIVE.has(status)
    ? `<p><em>Saved while the job was ${status}, ${when}: this is how it stood then.</em></p>` : "";
  return {
    model_name: "HTMLModel", model_module: "@jupyter-widgets/controls", model_module_version: "2.0.0",
    state: { value: note + html, _dom_classes: [SAVED_CLASS] },
  };
}

function keepSnapshot(model) {
  const context = notebookOf(model);
  const id = model.get("model_ref");
  const html = model.get("snapshot");
  if (!context || !id || !html) return;
  const nb = context.model;
  const get = (k) => (nb.getMetadata ? nb.getMetadata(k) : nb.metadata.get(k));
  const widgets = JSON.parse(JSON.stringify(get("widgets") || {}));
  const doc = widgets[STATE_MIME] || { version_major: 2, version_minor: 0, state: {} };
  doc.state = doc.state || {};
  const shown = outputModelIds(nb);
  for (const [other, entry] of Object.entries(doc.state)) { // snapshots of outputs gone
    const classes = (entry && entry.state && entry.state._dom_classes) || [];
    if (classes.includes(SAVED_CLASS) && !shown.has(other)) delete doc.state[other];
  }
  doc.state[id] = snapshotState(html, model.get("status"), fmtTime(Date.now(), "UTC") + " UTC");
  widgets[STATE_MIME] = doc;
  if (nb.setMetadata) nb.setMetadata("widgets", widgets);
  else nb.metadata.set("widgets", widgets);
}

// -- a failed job says so beyond its view ----------------------------------------------------

function toast(model) {
  const e = model.get("error") || {};
  const box = document.createElement("div");
  box.className = "nbs-toast";
  box.setAttribute("role", "alert");
  const text = document.createElement("div");
  text.textContent = `nbstream job '${model.get("job_name")}' failed`
    + (model.get("cell") ? ` (${model.get("cell")})` : "") + `: ${e.summary || ""}`;
  const show = document.createElement("button");
  show.textContent = "Show";
  const close = document.createElement("button");
  close.textContent = "Dismiss";
  close.className = "nbs-toast-close";
  const done = () => box.remove();
  show.addEventListener("click", () => {
    const view = document.querySelector(`.nbs-box[data-uid="${model.get("uid")}"]`);
    if (view) view.scrollIntoView({ block: "center" });
    done();
  });
  close.addEventListener("click", done);
  box.append(text, show, close);
  let host = document.querySelector(".nbs-toasts");
  if (!host) {
    host = document.createElement("div");
    host.className = "nbs-toasts";
    document.body.append(host);
  }
  host.append(box);  // until dismissed, as JupyterLab keeps its error notifications
}

function initialize({ model }) {
  const store = storeOf(model);
  const onDelta = () => {
    const event = applyDelta(store, model.get("delta"));
    if (event.gap && !store.waiting) {
      store.waiting = true;
      send(model, { type: "snapshot" });
    }
    if (event.changed.length || event.evicted.length || event.removed.length) notify(store, event);
  };
  const onMessage = (msg, buffers) => {
    if (msg && msg.type === "snapshot") {
      applySnapshot(store, msg);
      notify(store, { reset: true });
    } else if (msg && msg.type === "export") {
      notify(store, { export: msg, buffers });
    }
  };
  let wasLive = LIVE.has(model.get("status"));
  const tellFailure = () => {  // once per job, also when it failed before its view was drawn
    if (model.get("status") !== "failed" || model.get("failure_told")) return;
    model.set("failure_told", true);
    model.save_changes();
    toast(model);
  };
  const onStatus = () => {
    const status = model.get("status");
    tellFailure();
    if (wasLive && !LIVE.has(status)) keepSnapshot(model);
    wasLive = LIVE.has(status);
  };
  const context = notebookOf(model);
  const onSave = (_sender, state) => { if (state === "started") keepSnapshot(model); };
  if (context) context.saveState.connect(onSave);
  model.on("change:delta", onDelta);
  model.on("msg:custom", onMessage);
  model.on("change:status", onStatus);
  // The model may have been created before this module was loaded (or the page was
  // reloaded): whatever came before the current delta is then missing.
  onDelta();
  tellFailure();
  return () => {
    model.off("change:delta", onDelta);
    model.off("msg:custom", onMessage);
    model.off("change:status", onStatus);
    if (context) context.saveState.disconnect(onSave);
    stores.delete(model.get("uid"));
  };
}

// -- rendering --------------------------------------------------------------------------------

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(text, title, cls = "nbs-btn") {
  const b = el("button", cls, text);
  b.type = "button";
  b.title = title;
  return b;
}

function download(name, blob) {
  const a = el("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function sparkline(values, title) {
  const w = 80, h = 18;
  const pts = values.filter((v) => typeof v === "number");
  if (pts.length < 2) return "";
  const max = Math.max(...pts), min = Math.min(0, ...pts);
  const span = max - min || 1;
  const step = w / (values.length - 1);
  const path = values.map((v, i) => (typeof v === "number"
    ? `${(i * step).toFixed(1)},${(h - 1 - ((v - min) / span) * (h - 2)).toFixed(1)}` : "")).filter(Boolean).join(" ");
  return `<svg class="nbs-spark" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${title}"><title>${title}</title><polyline fill="none" stroke="currentColor" stroke-width="1.3" points="${path}"></polyline></svg>`;
}

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

function cssVar(node, name, fallback) {
  const v = getComputedStyle(node).getPropertyValue(name).trim();
  return v || fallback;
}

function render({ model, el: root }) {
  const store = storeOf(model);
  const ui = store.ui;
  const viewId = Math.random().toString(36).slice(2);
  const box = el("div", "nbs-box");
  box.dataset.uid = model.get("uid");

  // header: title, cell, status, progress, counters, sparklines, Stop
  const head = el("div", "nbs-head");
  const title = el("span", "nbs-title");
  const cell = el("span", "nbs-cell");
  const badge = el("span", "nbs-status");
  const progress = el("span", "nbs-progress");
  const bar = el("span", "nbs-bar");
  const barFill = el("span", "nbs-bar-fill");
  bar.append(barFill);
  const stop = button("Stop", "Stop the job", "nbs-btn nbs-stop");
  head.append(title, cell, badge, bar, progress, stop);
  const statsLine = el("div", "nbs-stats");
  const stats = el("span", "nbs-counters");
  const sparks = el("span", "nbs-sparks");
  statsLine.append(stats, sparks);
  const fault = el("div", "nbs-ft");
  const functions = el("div", "nbs-ft nbs-fns");
  const error = el("div", "nbs-error");
  error.setAttribute("role", "alert");

  // the job graph, folded
  const graph = el("details", "nbs-graph");
  const graphSummary = el("summary", null, "Job graph");
  const graphBody = el("div", "nbs-graph-body");
  graph.append(graphSummary, graphBody);

  // chart
  const chartBox = el("div", "nbs-chart");
  const chartBar = el("div", "nbs-toolbar");
  const chartKind = el("select", "nbs-kind");
  chartKind.title = "Chart kind";
  for (const k of ["auto", "line", "bar", "none"]) chartKind.append(new Option(k, k));
  const ySelect = el("select", "nbs-y");
  ySelect.title = "Value to chart";
  const keysButton = button("", "Choose the keys to chart", "nbs-btn nbs-keys");
  const keysPanel = el("div", "nbs-keys-panel");
  keysPanel.hidden = true;
  const tzButton = button("UTC", "Show times in UTC or in local time", "nbs-btn nbs-tz");
  chartBar.append(el("span", "nbs-label", "chart"), chartKind, el("span", "nbs-label", "value"),
    ySelect, keysButton, tzButton);
  const plotBox = el("div", "nbs-plot");
  chartBox.append(chartBar, keysPanel, plotBox);

  // table
  const tableBar = el("div", "nbs-toolbar");
  const search = el("input", "nbs-search");
  search.type = "search";
  search.placeholder = "filter rows";
  search.value = ui.filter;
  const pause = button("Pause", "Freeze the table and chart (the job goes on)", "nbs-btn nbs-pause");
  const csv = button("CSV", "Download the kept rows as CSV", "nbs-btn nbs-csv");
  const parquet = button("Parquet", "Download the kept rows as Parquet (from the kernel)", "nbs-btn nbs-parquet");
  const tableNote = el("span", "nbs-label nbs-rowcount");
  tableBar.append(search, pause, csv, parquet, tableNote);
  const tableBox = el("div", "nbs-tablebox");
  const table = el("table", "nbs-table");
  const thead = el("thead");
  const tbody = el("tbody");
  table.append(thead, tbody);
  tableBox.append(table);
  const foot = el("div", "nbs-foot");
  box.append(head, statsLine, fault, functions, error, graph, chartBox, tableBar, tableBox, foot);
  root.append(box);

  // The table is virtual: only the rows in view (plus a margin) are in the DOM, in a small
  // pool of <tr>s that is reused.
  const topPad = el("tr", "nbs-pad");
  const bottomPad = el("tr", "nbs-pad");
  const pool = [];
  const hot = new Map(); // row id -> when it last changed (ms)
  let order = null; // row ids as shown (null: to recompute)
  let columnsShown = null;
  let rowHeight = 20;
  let frame = 0;
  let coolTimer = 0;
  let paused = false;
  let missed = 0;
  let restoreScroll = ui.scrollTop;
  let plot = null;
  let plotKey = "";
  let chartAt = 0;
  let chartTimer = 0;
  let autoKeys = null; // the top keys charted, and when they were ranked
  let autoAt = 0;
  const history = { rate: [], lag: [] };
  chartKind.value = ui.kind;

  const schedule = () => { if (!frame) frame = requestAnimationFrame(flush); };
  const onStore = (event) => {
    if (event.export) { onExport(event.export, event.buffers); return; }
    if (paused) { missed += (event.changed || []).length; schedule(); return; }
    order = null;
    const now = performance.now();
    if (event.reset) hot.clear();
    else if (event.changed.length <= 300) for (const id of event.changed) hot.set(id, now);
    for (const id of [...(event.evicted || []), ...(event.removed || [])]) hot.delete(id);
    schedule();
  };
  store.listeners.add(onStore);
  tableBox.addEventListener("scroll", () => {
    if (restoreScroll === null) ui.scrollTop = tableBox.scrollTop;
    schedule();
  }, { passive: true });

  const spec = () => model.get("chart") || { kind: "none" };
  const times = () => new Set(spec().times || ["window_start", "window_end"]);

  function fillRow(tr, id, row, columns, now, timeCols) {
    while (tr.children.length < columns.length) tr.append(el("td"));
    while (tr.children.length > columns.length) tr.lastChild.remove();
    const cells = row.cells;
    for (let i = 0; i < columns.length; i += 1) {
      const text = fmtCell(cells[i], columns[i], timeCols, ui.tz);
      const td = tr.children[i];
      if (td.textContent !== text) td.textContent = text;
      const cls = typeof cells[i] === "number" && !(timeCols.has(columns[i]) && isMillis(cells[i])) ? "nbs-num" : "";
      if (td.className !== cls) td.className = cls;
    }
    tr.dataset.rid = id;
    const changed = hot.get(id);
    tr.classList.toggle("nbs-hot", changed !== undefined && now - changed < HOT_MS);
  }

  function drawHead(columns) {
    const key = columns.join("\u0000") + (ui.sort ? `\u0001${ui.sort.column}${ui.sort.desc}` : "");
    if (key === columnsShown) return;
    thead.replaceChildren();
    const hr = el("tr");
    for (const c of columns) {
      const th = el("th", "", c);
      th.title = "Sort by this column (again: the other way, then newest first)";
      if (ui.sort && ui.sort.column === c) th.append(el("span", "nbs-sort", ui.sort.desc ? " ▼" : " ▲"));
      th.addEventListener("click", () => {
        if (!ui.sort || ui.sort.column !== c) ui.sort = { column: c, desc: false };
        else if (!ui.sort.desc) ui.sort = { column: c, desc: true };
        else ui.sort = null;
        order = null;
        schedule();
      });
      hr.append(th);
    }
    thead.append(hr);
    columnsShown = key;
  }

  function drawTable(columns) {
    drawHead(columns);
    const timeCols = times();
    if (order === null) order = tableOrder(store, columns, { sort: ui.sort, filter: ui.filter, times: timeCols, tz: ui.tz });
    const total = order.length;
    const view = tableBox.clientHeight || 280;
    const first = Math.max(0, Math.floor(tableBox.scrollTop / rowHeight) - 5);
    const last = Math.min(total, first + Math.ceil(view / rowHeight) + 10);
    while (pool.length < last - first) pool.push(el("tr"));
    const now = performance.now();
    const rows = [];
    for (let i = first; i < last; i += 1) {
      const tr = pool[i - first];
      fillRow(tr, order[i], store.rows.get(order[i]), columns, now, timeCols);
      rows.push(tr);
    }
    for (const [padRow, height] of [[topPad, first * rowHeight], [bottomPad, (total - last) * rowHeight]]) {
      if (!padRow.firstChild) padRow.append(el("td"));
      padRow.firstChild.colSpan = Math.max(1, columns.length);
      padRow.firstChild.style.height = `${height}px`;
      padRow.style.display = height > 0 ? "" : "none";
    }
    const wanted = [topPad, ...rows, bottomPad];
    const current = tbody.children;
    let same = current.length === wanted.length;
    for (let i = 0; same && i < wanted.length; i += 1) same = current[i] === wanted[i];
    if (!same) tbody.replaceChildren(...wanted);
    if (rows.length) {
      const measured = rows[0].getBoundingClientRect().height;
      if (measured > 0 && Math.abs(measured - rowHeight) > 0.5) { rowHeight = measured; schedule(); }
    }
    table.dataset.rows = String(store.rows.size);
    table.dataset.shown = String(total);
    tableNote.textContent = (ui.filter ? `${fmtNumber(total)} of ${fmtNumber(store.rows.size)} rows match`
      : `${fmtNumber(store.rows.size)} rows`) + (paused ? ` · paused (${fmtNumber(missed)} updates waiting)` : "");
    if (restoreScroll !== null) {
      const target = restoreScroll;
      restoreScroll = null;
      if (target > 0) { tableBox.scrollTop = target; schedule(); }
    }
    if (hot.size) {
      clearTimeout(coolTimer);
      coolTimer = setTimeout(() => {
        const t = performance.now();
        for (const [id, when] of hot) if (t - when >= HOT_MS) hot.delete(id);
        schedule();
      }, HOT_MS + 50);
    }
  }

  function drawGraph() {
    const steps = model.get("graph") || [];
    graph.style.display = steps.length ? "" : "none";
    if (!steps.length || !graph.open) {
      graphSummary.textContent = `Job graph · ${steps.length} steps`;
      return;
    }
    const high = steps.filter((s) => (s.backpressure || 0) >= 0.5).length;
    graphSummary.textContent = `Job graph · ${steps.length} steps` + (high ? ` · ${high} backpressured` : "");
    const chains = [];
    for (const s of steps) {
      if (!chains.length || chains[chains.length - 1][0].chain !== s.chain) chains.push([]);
      chains[chains.length - 1].push(s);
    }
    graphBody.innerHTML = chains.map((chain) => `<div class="nbs-chain">${chain.map((s) => {
      const bp = s.backpressure;
      const level = bp == null ? "" : bp >= 0.5 ? "high" : bp >= 0.1 ? "low" : "ok";
      const bpText = bp == null ? "" : `<span class="nbs-bp nbs-bp-${level}" title="backpressure: how full the channels to the next task are">${level} ${Math.round(bp * 100)} %</span>`;
      return `<div class="nbs-step" data-step="${esc(s.name)}"><b>${esc(s.name)}</b> <span class="nbs-muted">×${s.parallelism} · ${esc(s.mode)}</span><br><span class="nbs-muted">in ${fmtNumber(s.records_in)} · out ${fmtNumber(s.records_out)}</span> ${bpText}</div>`;
    }).join("")}</div>`).join('<div class="nbs-arrow">→</div>');
  }

  function drawHeader() {
    const s = model.get("stats") || {};
    const status = model.get("status");
    const live = LIVE.has(status);
    title.textContent = model.get("title") || model.get("job_name");
    title.title = `job ${model.get("job_name")}`;
    cell.textContent = model.get("cell") || "";
    badge.textContent = `${status} · ${model.get("mode")}`;
    badge.className = `nbs-status nbs-${status}`;
    box.classList.toggle("nbs-failed-box", status === "failed");
    const restoring = s.restoring;
    const prog = progressText(s);
    if (restoring && restoring.total) {
      progress.textContent = `restoring source position (${fmtNumber(restoring.done)} of ${fmtNumber(restoring.total)})`;
      barFill.style.width = `${Math.floor((100 * restoring.done) / restoring.total)}%`;
      bar.style.display = "";
    } else if (prog) {
      progress.textContent = prog;
      barFill.style.width = `${Math.floor((100 * s.progress.done) / s.progress.total)}%`;
      bar.style.display = "";
    } else {
      const ft = model.get("checkpoints") || {};
      progress.textContent = live && !s.records_in && ft.resumed_from ? `restoring from savepoint ${ft.resumed_from}…` : "";
      bar.style.display = "none";
    }
    const rate = typeof s.rate === "number" ? Math.round(s.rate) : 0;
    const wm = s.watermark;
    const wmText = wm == null ? "-" : typeof wm === "number" && isMillis(wm) ? `${fmtTime(wm, ui.tz)} ${ui.tz === "UTC" ? "UTC" : ""}`.trim() : String(wm);
    stats.textContent = `in ${fmtNumber(s.records_in || 0)} · out ${fmtNumber(s.records_out || 0)}`
      + ` · ${fmtNumber(rate)} rec/s · watermark ${wmText} · ${fmtDuration(s.elapsed_s || 0)}`
      + changelogText(s.changelog);
    if (live) {
      history.rate.push(rate);
      history.lag.push(typeof s.lag_ms === "number" ? s.lag_ms / 1000 : null);
      for (const h of Object.values(history)) if (h.length > 60) h.shift();
    }
    sparks.innerHTML = (history.rate.length > 1 ? `<span class="nbs-spark-label">rate</span>${sparkline(history.rate, "records/s, last 30 s")}` : "")
      + (history.lag.some((v) => typeof v === "number") ? `<span class="nbs-spark-label">lag</span>${sparkline(history.lag, "watermark lag behind the clock (s)")}` : "");
    const ft = model.get("checkpoints") || {};
    fault.style.display = ft.text ? "" : "none";
    fault.textContent = ft.text || "";
    fault.title = ft.last_failure ? `last failure: ${ft.last_failure}` : "";
    const fnLines = model.get("functions") || [];
    functions.style.display = fnLines.length ? "" : "none";
    functions.replaceChildren(...fnLines.map((line) => el("div", null, line)));
    stop.disabled = !(status === "running" || status === "restarting");
    stop.textContent = status === "stopping" ? "Stopping…" : "Stop";
    const kept = s.kept || 0;
    foot.textContent = model.get("has_table")
      ? (kept > store.rows.size ? `newest ${fmtNumber(store.rows.size)} of ${fmtNumber(kept)} kept rows shown` : "")
        + (s.dropped ? `${kept > store.rows.size ? " · " : ""}${fmtNumber(s.dropped)} older rows dropped` : "")
      : "this job shows no stream: end the cell with one, or call show(stream)";
    const e = model.get("error") || {};
    if (e.summary) {
      error.style.display = "";
      error.innerHTML = `<div class="nbs-error-title">${esc(e.summary)}</div>`
        + (e.where ? `<div class="nbs-error-where">${esc(e.where)}</div>` : "")
        + (e.traceback ? `<pre>${esc(e.traceback)}</pre>` : "");
    } else {
      error.style.display = "none";
    }
    tzButton.textContent = ui.tz === "UTC" ? "UTC" : "local time";
  }

  function chartTheme() {
    return {
      fg: cssVar(box, "--nbs-fg", "#222"),
      grid: cssVar(box, "--nbs-grid", "rgba(128,128,128,0.25)"),
      font: `11px ${cssVar(box, "--jp-ui-font-family", "sans-serif")}`,
    };
  }

  function buildPlot(kind, keys, timeAxis, yName, width) {
    const t = chartTheme();
    const axis = { stroke: t.fg, grid: { stroke: t.grid, width: 1 }, ticks: { stroke: t.grid }, font: t.font };
    const tz = ui.tz === "UTC" ? (ts) => uPlot.tzDate(new Date(ts), "Etc/UTC") : (ts) => new Date(ts);
    const bars = kind === "bar";
    const opts = {
      width, height: 240, ms: 1, tzDate: tz,
      scales: { x: { time: timeAxis && !bars } },
      legend: { live: true },
      cursor: { drag: { x: !bars, y: false } },
      axes: [
        bars ? { ...axis, values: (u, splits) => splits.map((i) => (Number.isInteger(i) && keys[i] != null ? String(keys[i]).slice(0, 14) : "")) }
          : timeAxis ? { ...axis, space: 70, values: (u, splits, ax, space, incr) => timeTicks(splits, incr, ui.tz) } : { ...axis },
        { ...axis, size: 60, label: yName, labelFont: t.font, values: (u, splits) => splits.map(fmtNumber) },
      ],
      series: [
        { label: bars ? "key" : timeAxis ? `time (${ui.tz === "UTC" ? "UTC" : "local"})` : spec().x || "x",
          value: (u, v) => (v == null ? "-" : bars ? (keys[v] ?? "") : timeAxis ? fmtTime(v, ui.tz) : fmtNumber(v)) },
        ...(bars ? [{ label: yName, stroke: PALETTE[0], fill: PALETTE[0] + "cc", width: 0,
          paths: uPlot.paths.bars({ size: [0.7, 60] }), points: { show: false }, value: (u, v) => fmtNumber(v) }]
          : keys.map((k, i) => ({ label: String(k), stroke: PALETTE[i % PALETTE.length], width: 1.6, spanGaps: true,
            points: { size: 4 }, value: (u, v) => (v == null ? "-" : fmtNumber(v)) }))),
      ],
    };
    if (plot) plot.destroy();
    plotBox.replaceChildren();
    plot = new uPlot(opts, bars ? [[], []] : [[], ...keys.map(() => [])], plotBox);
  }

  function drawKeys(picked, all, hidden) {
    keysButton.textContent = `${all.length - hidden} of ${all.length} keys` + (hidden ? ` · ${hidden} hidden ▾` : " ▾");
    keysButton.style.display = all.length > 1 ? "" : "none";
    if (keysPanel.hidden) return;
    const shown = new Set(picked);
    keysPanel.replaceChildren(
      el("div", "nbs-label", `The top ${TOP_KEYS} by their newest value are charted unless you choose:`),
      ...all.map((k) => {
        const label = el("label", "nbs-key");
        const box2 = el("input");
        box2.type = "checkbox";
        box2.checked = shown.has(k);
        box2.addEventListener("change", () => {
          const next = new Set(ui.picked || picked);
          if (box2.checked) next.add(k); else next.delete(k);
          ui.picked = next;
          plotKey = "";
          drawChart(true);
        });
        label.append(box2, document.createTextNode(` ${k}`));
        return label;
      }),
      (() => { const b = button("top keys", "Chart the top keys again"); b.addEventListener("click", () => { ui.picked = null; plotKey = ""; drawChart(true); }); return b; })(),
    );
  }

  function drawChart(force = false) {
    const sp = spec();
    const candidates = sp.y || [];
    const kind = ui.kind === "auto" ? sp.kind : ui.kind;
    if (!candidates.length || kind === "none") {
      chartBox.style.display = candidates.length ? "" : "none";
      plotBox.style.display = "none";
      if (plot) { plot.destroy(); plot = null; plotKey = ""; }
      return;
    }
    chartBox.style.display = "";
    plotBox.style.display = "";
    const now = performance.now();
    if (!force && now - chartAt < CHART_MS) {
      if (!chartTimer) chartTimer = setTimeout(() => { chartTimer = 0; drawChart(); }, CHART_MS);
      return;
    }
    chartAt = now;
    if (ySelect.options.length !== candidates.length || [...ySelect.options].some((o, i) => o.value !== candidates[i])) {
      ySelect.replaceChildren(...candidates.map((c) => new Option(c, c)));
    }
    const y = candidates.includes(ui.y) ? ui.y : sp.y_default || candidates[0];
    ySelect.value = y;
    const columns = model.get("columns") || [];
    const series = seriesOf(store, columns, sp, y);
    const ranked = pickKeys(series, ui.picked);
    const { all, hidden } = ranked;
    let shown = ranked.shown;
    if (!ui.picked) {
      // the top keys are ranked again every few seconds, not on every update: a chart whose
      // lines kept changing would be rebuilt (and read) all the time
      const fresh = autoKeys && autoKeys.length === shown.length && autoKeys.every((k) => series.has(k));
      if (fresh && now - autoAt < RERANK_MS) shown = autoKeys;
      else { autoKeys = shown; autoAt = now; }
    }
    drawKeys(shown, all, hidden);
    const width = Math.max(200, plotBox.clientWidth || box.clientWidth - 20);
    const key = [kind, y, ui.tz, sp.time, shown.join("\u0000"), document.body.dataset.jpThemeName || ""].join("\u0001");
    if (key !== plotKey || !plot) { buildPlot(kind, shown, sp.time !== false, y, width); plotKey = key; }
    if (kind === "bar") {
      const bars = barsOf(series, shown);
      plot.setData([bars.map((_, i) => i), bars.map((b) => b[1])]);
    } else {
      plot.setData(aligned(series, shown));
    }
    plotBox.dataset.series = String(shown.length);
    plotBox.dataset.keys = String(all.length);
    plotBox.dataset.x = kind === "bar" ? "key" : sp.time !== false ? "time" : sp.x;
    plotBox.dataset.ylabel = y;
  }

  function onExport(msg, buffers) {
    parquet.disabled = false;
    if (msg.error) { tableNote.textContent = `export failed: ${msg.error}`; return; }
    const data = buffers && buffers[0];
    if (data) download(msg.name, new Blob([data.buffer ? data.buffer : data], { type: "application/vnd.apache.parquet" }));
  }

  function flush() {
    frame = 0;
    const columns = model.get("columns") || [];
    const hasTable = model.get("has_table");
    tableBox.style.display = hasTable ? "" : "none";
    tableBar.style.display = hasTable ? "" : "none";
    if (hasTable && (!paused || order === null)) drawTable(columns);
    else if (paused) tableNote.textContent = `${fmtNumber(store.rows.size)} rows · paused (${fmtNumber(missed)} updates waiting)`;
    drawHeader();
    drawGraph();
    if (!paused) drawChart();
  }

  const onHeader = () => schedule();
  const onColumns = () => { order = null; schedule(); };
  const onChartSpec = () => { plotKey = ""; schedule(); };
  const events = [["change:stats", onHeader], ["change:status", onHeader], ["change:error", onHeader],
    ["change:checkpoints", onHeader], ["change:functions", onHeader], ["change:graph", onHeader],
    ["change:chart", onChartSpec], ["change:columns", onColumns]];
  for (const [name, fn] of events) model.on(name, fn);
  stop.addEventListener("click", () => {
    stop.disabled = true;
    stop.textContent = "Stopping…";
    send(model, { type: "stop" });
  });
  ySelect.addEventListener("change", () => { ui.y = ySelect.value; plotKey = ""; drawChart(true); });
  chartKind.addEventListener("change", () => { ui.kind = chartKind.value; plotKey = ""; drawChart(true); });
  keysButton.addEventListener("click", () => { keysPanel.hidden = !keysPanel.hidden; drawChart(true); });
  tzButton.addEventListener("click", () => {
    ui.tz = ui.tz === "UTC" ? "local" : "UTC";
    order = null; columnsShown = null; plotKey = "";
    flush();
  });
  search.addEventListener("input", () => { ui.filter = search.value; order = null; schedule(); });
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    pause.classList.toggle("nbs-on", paused);
    box.classList.toggle("nbs-paused", paused);
    missed = 0;
    order = null;
    schedule();
  });
  csv.addEventListener("click", () => {
    const columns = model.get("columns") || [];
    download(`${model.get("job_name")}.csv`, new Blob([toCsv(store, columns, times())], { type: "text/csv" }));
  });
  parquet.addEventListener("click", () => {
    parquet.disabled = true;
    send(model, { type: "export", format: "parquet" });
    setTimeout(() => { parquet.disabled = false; }, 10000);
  });
  graph.addEventListener("toggle", () => drawGraph());
  const resize = new ResizeObserver(() => {
    if (plot) {
      const width = Math.max(200, plotBox.clientWidth);
      if (Math.abs(width - plot.width) > 2) plot.setSize({ width, height: 240 });
    }
  });
  resize.observe(plotBox);
  const themeWatch = new MutationObserver(() => { plotKey = ""; schedule(); });
  themeWatch.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-name", "data-jp-theme-light"] });
  send(model, { type: "view", open: true, id: viewId });
  schedule();

  return () => {
    if (frame) cancelAnimationFrame(frame);
    clearTimeout(coolTimer);
    clearTimeout(chartTimer);
    resize.disconnect();
    themeWatch.disconnect();
    if (plot) plot.destroy();
    store.listeners.delete(onStore);
    for (const [name, fn] of events) model.off(name, fn);
    send(model, { type: "view", open: false, id: viewId });
  };
}

export default { initialize, render };
