// nbstream live view: the front end of nbstream.notebook.widget.StreamView.
// A plain ES module in the anywidget style (initialize once per model, render per view);
// no imports, no network. The model-level store keeps the newest `limit` rows, applies the
// deltas the kernel sends, and asks for a snapshot when it sees a gap.

const stores = new Map(); // model uid -> store

export function createStore(limit) {
  // ui: what a view was showing, so a re-rendered view (e.g. the job's final display
  // update) keeps its scroll position and choices
  return { version: 0, limit, rows: new Map(), listeners: new Set(), waiting: false,
           ui: { scrollTop: 0, y: null, kind: "auto" } };
}

// Apply one delta {from, to, rows: [[id, cells, label], ...]} (oldest first); a row
// whose cells are null was removed (a retraction of a table's changelog).
// Returns {changed, evicted, gap}; a delta the store already has is ignored.
export function applyDelta(store, delta) {
  const out = { changed: [], evicted: [], gap: false };
  if (!delta || delta.to <= store.version) return out;
  out.gap = delta.from > store.version;
  for (const [id, cells, label] of delta.rows) {
    store.rows.delete(id);
    if (cells === null) {
      out.evicted.push(id);
      continue;
    }
    store.rows.set(id, { cells, label });
    out.changed.push(id);
  }
  while (store.rows.size > store.limit) {
    const oldest = store.rows.keys().next().value;
    store.rows.delete(oldest);
    out.evicted.push(oldest);
  }
  store.version = delta.to;
  return out;
}

export function applySnapshot(store, snapshot) {
  store.rows = new Map();
  for (const [id, cells, label] of snapshot.rows) store.rows.set(id, { cells, label });
  while (store.rows.size > store.limit) store.rows.delete(store.rows.keys().next().value);
  store.version = snapshot.version;
  store.waiting = false;
}

// The series or bars to draw, from the kept rows. spec: {kind, x, y, ...}.
export function chartData(store, columns, spec, y) {
  const yi = columns.indexOf(y);
  if (!spec || spec.kind === "none" || yi < 0) return null;
  const xi = spec.x ? columns.indexOf(spec.x) : -1;
  if (spec.kind === "line") {
    const series = new Map();
    let n = 0;
    for (const { cells, label } of store.rows.values()) {
      const yv = cells[yi];
      const xv = xi >= 0 ? cells[xi] : n;
      n += 1;
      if (typeof yv !== "number" || typeof xv !== "number") continue;
      const key = label == null ? "all" : label;
      if (!series.has(key)) series.set(key, []);
      series.get(key).push([xv, yv]);
    }
    for (const points of series.values()) points.sort((a, b) => a[0] - b[0]);
    return { kind: "line", series, time: xi >= 0 && spec.x.startsWith("window") };
  }
  const bars = new Map();
  const li = columns.findIndex((c, i) => i !== yi);
  for (const { cells, label } of store.rows.values()) {
    const v = cells[yi];
    if (typeof v !== "number") continue;
    const key = label != null ? label : String(li >= 0 ? cells[li] : bars.size);
    bars.set(key, v);
  }
  return { kind: "bar", bars: [...bars.entries()].sort((a, b) => b[1] - a[1]) };
}

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

function receive(model, store, delta) {
  const event = applyDelta(store, delta);
  if (event.gap && !store.waiting) {
    store.waiting = true;
    model.send({ type: "snapshot" });
  }
  if (event.changed.length || event.evicted.length) notify(store, event);
}

function initialize({ model }) {
  const store = storeOf(model);
  const onDelta = () => receive(model, store, model.get("delta"));
  const onMessage = (msg) => {
    if (msg && msg.type === "snapshot") {
      applySnapshot(store, msg);
      notify(store, { reset: true });
    }
  };
  model.on("change:delta", onDelta);
  model.on("msg:custom", onMessage);
  // The model may have been created before this module was loaded (or the page was
  // reloaded): whatever came before the current delta is then missing.
  onDelta();
  return () => {
    model.off("change:delta", onDelta);
    model.off("msg:custom", onMessage);
    stores.delete(model.get("uid"));
  };
}

// -- rendering ------------------------------------------------------------------------------

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmtNumber(v) {
  if (typeof v !== "number") return v == null ? "" : String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return v.toLocaleString("en-US", { maximumFractionDigits: 3 });
}

function fmtTime(ms) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  return d.toISOString().replace("T", " ").replace("Z", "").slice(0, 23);
}

function fmtWatermark(wm) {
  if (wm == null) return "-";
  if (typeof wm !== "number") return String(wm);
  return wm > 1e11 && wm < 1e14 ? fmtTime(wm) : String(wm);
}

function fmtCell(v, column) {
  if (typeof v === "number" && (column === "window_start" || column === "window_end")
      && v > 1e11 && v < 1e14) return fmtTime(v).slice(11);
  return fmtNumber(v);
}

function shortTick(v, time) {
  if (time) return fmtTime(v).slice(11, 19);
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
  return fmtNumber(Math.round(v * 100) / 100);
}

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

function drawChart(data) {
  const W = 560, H = 180, L = 56, R = 110, T = 10, B = 24;
  if (!data) return "";
  if (data.kind === "bar") {
    const bars = data.bars.slice(0, 12);
    if (!bars.length) return "";
    const h = Math.max(14, Math.min(22, (H - T) / bars.length));
    const max = Math.max(...bars.map((b) => b[1]), 0) || 1;
    const height = T + h * bars.length + 4;
    let s = `<svg class="nbs-svg" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}">`;
    bars.forEach(([label, v], i) => {
      const w = Math.max(1, ((W - L - R) * Math.max(v, 0)) / max);
      const y = T + i * h;
      s += `<text x="${L + 44}" y="${y + h * 0.7}" text-anchor="end" class="nbs-axis">${esc(String(label).slice(0, 14))}</text>`;
      s += `<rect x="${L + 50}" y="${y + 2}" width="${w}" height="${h - 4}" fill="${COLORS[i % 10]}"></rect>`;
      s += `<text x="${L + 54 + w}" y="${y + h * 0.7}" class="nbs-axis">${esc(fmtNumber(v))}</text>`;
    });
    return s + "</svg>";
  }
  const all = [...data.series.entries()].slice(0, 10);
  const points = all.flatMap(([, p]) => p);
  if (!points.length) return "";
  let x0 = Math.min(...points.map((p) => p[0])), x1 = Math.max(...points.map((p) => p[0]));
  let y0 = Math.min(0, ...points.map((p) => p[1])), y1 = Math.max(...points.map((p) => p[1]));
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) y1 = y0 + 1;
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  let s = `<svg class="nbs-svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">`;
  s += `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" class="nbs-grid"></line>`;
  for (const yv of [y0, (y0 + y1) / 2, y1]) {
    s += `<line x1="${L}" y1="${sy(yv)}" x2="${W - R}" y2="${sy(yv)}" class="nbs-grid"></line>`;
    s += `<text x="${L - 4}" y="${sy(yv) + 4}" text-anchor="end" class="nbs-axis">${esc(shortTick(yv, false))}</text>`;
  }
  s += `<text x="${L}" y="${H - 6}" class="nbs-axis">${esc(shortTick(x0, data.time))}</text>`;
  s += `<text x="${W - R}" y="${H - 6}" text-anchor="end" class="nbs-axis">${esc(shortTick(x1, data.time))}</text>`;
  all.forEach(([label, pts], i) => {
    const color = COLORS[i % 10];
    const path = pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
    s += `<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${path}"></polyline>`;
    if (pts.length === 1) s += `<circle cx="${sx(pts[0][0])}" cy="${sy(pts[0][1])}" r="2.5" fill="${color}"></circle>`;
    s += `<rect x="${W - R + 8}" y="${T + i * 16}" width="10" height="10" fill="${color}"></rect>`;
    s += `<text x="${W - R + 22}" y="${T + i * 16 + 9}" class="nbs-axis">${esc(String(label).slice(0, 14))}</text>`;
  });
  return s + "</svg>";
}

function render({ model, el: root }) {
  const store = storeOf(model);
  const viewId = Math.random().toString(36).slice(2);
  const box = el("div", "nbs-box");
  const head = el("div", "nbs-head");
  const title = el("span", "nbs-title");
  const badge = el("span", "nbs-status");
  const stats = el("span", "nbs-stats");
  const stop = el("button", "nbs-stop", "Stop");
  stop.title = "Stop the job";
  head.append(title, badge, stats, stop);
  const fault = el("div", "nbs-ft");
  const functions = el("div", "nbs-ft nbs-fns");
  const error = el("div", "nbs-error");
  const chartBox = el("div", "nbs-chart");
  const chartBar = el("div", "nbs-chartbar");
  const ySelect = el("select", "nbs-y");
  const chartKind = el("select", "nbs-kind");
  for (const k of ["auto", "line", "bar", "none"]) chartKind.append(new Option(k, k));
  chartBar.append(el("span", "nbs-label", "chart"), chartKind, el("span", "nbs-label", "value"), ySelect);
  const chartSvg = el("div", "nbs-svgbox");
  chartBox.append(chartBar, chartSvg);
  const tableBox = el("div", "nbs-tablebox");
  const table = el("table", "nbs-table");
  const thead = el("thead");
  const tbody = el("tbody");
  table.append(thead, tbody);
  tableBox.append(table);
  const foot = el("div", "nbs-foot");
  box.append(head, fault, functions, error, chartBox, tableBox, foot);
  root.append(box);

  // The table is virtual: it holds every kept row (newest first) but only the rows in
  // view (plus a margin) are in the DOM, in a small pool of <tr>s that is reused.
  const topPad = el("tr", "nbs-pad");
  const bottomPad = el("tr", "nbs-pad");
  const pool = [];
  const hot = new Map(); // row id -> when it last changed (ms)
  let order = null; // row ids, newest first (null: to recompute)
  let columnsShown = null;
  let rowHeight = 19;
  let frame = 0;
  let coolTimer = 0;
  let yChoice = store.ui.y;
  let kindChoice = store.ui.kind;
  chartKind.value = kindChoice;
  let restoreScroll = store.ui.scrollTop;

  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(flush);
  };
  const onStore = (event) => {
    order = null;
    const now = performance.now();
    if (event.reset) hot.clear();
    else if (event.changed.length <= 200) for (const id of event.changed) hot.set(id, now);
    for (const id of event.evicted || []) hot.delete(id);
    schedule();
  };
  store.listeners.add(onStore);
  tableBox.addEventListener("scroll", () => {
    if (restoreScroll === null) store.ui.scrollTop = tableBox.scrollTop;
    schedule();
  }, { passive: true });

  function fillRow(tr, id, row, columns, now) {
    while (tr.children.length < columns.length) tr.append(el("td"));
    while (tr.children.length > columns.length) tr.lastChild.remove();
    const cells = row.cells;
    for (let i = 0; i < columns.length; i += 1) {
      const text = fmtCell(cells[i], columns[i]);
      const td = tr.children[i];
      if (td.textContent !== text) td.textContent = text;
      const cls = typeof cells[i] === "number" ? "nbs-num" : "";
      if (td.className !== cls) td.className = cls;
    }
    tr.dataset.rid = id;
    const changed = hot.get(id);
    tr.classList.toggle("nbs-hot", changed !== undefined && now - changed < 700);
  }

  function drawTable(columns) {
    const key = columns.join("\u0000");
    if (key !== columnsShown) {
      thead.replaceChildren();
      const hr = el("tr");
      for (const c of columns) hr.append(el("th", "", c));
      thead.append(hr);
      columnsShown = key;
    }
    if (order === null) order = [...store.rows.keys()].reverse();
    const total = order.length;
    const view = tableBox.clientHeight || 260;
    const first = Math.max(0, Math.floor(tableBox.scrollTop / rowHeight) - 5);
    const last = Math.min(total, first + Math.ceil(view / rowHeight) + 10);
    while (pool.length < last - first) pool.push(el("tr"));
    const now = performance.now();
    const rows = [];
    for (let i = first; i < last; i += 1) {
      const tr = pool[i - first];
      fillRow(tr, order[i], store.rows.get(order[i]), columns, now);
      rows.push(tr);
    }
    for (const [pad, height] of [[topPad, first * rowHeight], [bottomPad, (total - last) * rowHeight]]) {
      if (!pad.firstChild) pad.append(el("td"));
      pad.firstChild.colSpan = Math.max(1, columns.length);
      pad.firstChild.style.height = `${height}px`;
      pad.style.display = height > 0 ? "" : "none";
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
    table.dataset.rows = String(total);
    if (restoreScroll !== null) {
      const target = restoreScroll;
      restoreScroll = null;
      if (target > 0) { tableBox.scrollTop = target; schedule(); }
    }
    if (hot.size) {
      clearTimeout(coolTimer);
      coolTimer = setTimeout(() => {
        const t = performance.now();
        for (const [id, when] of hot) if (t - when >= 700) hot.delete(id);
        schedule();
      }, 750);
    }
  }

  function drawHeader() {
    const s = model.get("stats") || {};
    const status = model.get("status");
    title.textContent = model.get("title") || model.get("job_name");
    title.title = `job ${model.get("job_name")}`;
    badge.textContent = `${status} · ${model.get("mode")}`;
    badge.className = `nbs-status nbs-${status}`;
    const rate = typeof s.rate === "number" ? Math.round(s.rate) : 0;
    stats.textContent = `in ${fmtNumber(s.records_in || 0)} · out ${fmtNumber(s.records_out || 0)}`
      + ` · ${fmtNumber(rate)} rec/s · watermark ${fmtWatermark(s.watermark)}`
      + ` · ${(s.elapsed_s || 0).toFixed(1)} s`
      + (s.changelog ? ` · ${["+I", "-U", "+U", "-D"].map((k) => `${k} ${fmtNumber(s.changelog[k] || 0)}`).join(" ")}` : "");
    const ft = model.get("checkpoints") || {};
    // checkpoints, restarts, "resumed from NAME" (the text is made by the kernel)
    fault.style.display = ft.text ? "" : "none";
    fault.textContent = ft.text || "";
    fault.title = ft.last_failure ? `last failure: ${ft.last_failure}` : "";
    // a StateFun job: a line per function type (counts, latency; the text is the kernel's)
    const fnLines = model.get("functions") || [];
    functions.style.display = fnLines.length ? "" : "none";
    functions.replaceChildren(...fnLines.map((line) => el("div", null, line)));
    const running = status === "running" || status === "restarting";
    stop.disabled = !running;
    if (!running && status !== "stopping") stop.textContent = "Stop";
    if (status === "stopping") stop.textContent = "Stopping…";
    const kept = s.kept || 0;
    foot.textContent = model.get("has_table")
      ? `${fmtNumber(Math.min(store.rows.size, kept || store.rows.size))} rows shown`
        + (kept > store.rows.size ? ` of ${fmtNumber(kept)} kept` : "")
        + (s.dropped ? ` · ${fmtNumber(s.dropped)} older rows dropped` : "")
      : "this job shows no stream: end the cell with one, or call show(stream)";
    const e = model.get("error") || {};
    if (e.summary) {
      error.style.display = "";
      error.innerHTML = `<div class="nbs-error-title">${esc(e.summary)}</div>`
        + (e.step ? `<div><b>step</b> ${esc(e.step)} <b>function</b> ${esc(e.function || "")}</div>` : "")
        + (e.record != null ? `<div><b>record</b> <code>${esc(e.record)}</code></div>` : "")
        + (e.traceback ? `<pre>${esc(e.traceback)}</pre>` : "");
    } else {
      error.style.display = "none";
    }
  }

  function drawChartArea(columns) {
    const spec = model.get("chart") || { kind: "none" };
    const candidates = spec.y || [];
    const kind = kindChoice === "auto" ? spec.kind : kindChoice;
    if (!candidates.length || kind === "none") {
      chartBox.style.display = candidates.length ? "" : "none";
      chartSvg.innerHTML = "";
      return;
    }
    chartBox.style.display = "";
    if (ySelect.options.length !== candidates.length) {
      ySelect.replaceChildren(...candidates.map((c) => new Option(c, c)));
    }
    const y = candidates.includes(yChoice) ? yChoice : spec.y_default || candidates[0];
    ySelect.value = y;
    const data = chartData(store, columns, { ...spec, kind }, y);
    chartSvg.innerHTML = drawChart(data);
  }

  function flush() {
    frame = 0;
    const columns = model.get("columns") || [];
    tableBox.style.display = model.get("has_table") ? "" : "none";
    if (model.get("has_table")) drawTable(columns);
    drawHeader();
    drawChartArea(columns);
  }

  const onHeader = () => schedule();
  const onColumns = () => { order = null; schedule(); };
  model.on("change:stats", onHeader);
  model.on("change:status", onHeader);
  model.on("change:error", onHeader);
  model.on("change:checkpoints", onHeader);
  model.on("change:functions", onHeader);
  model.on("change:chart", onHeader);
  model.on("change:columns", onColumns);
  stop.addEventListener("click", () => {
    stop.disabled = true;
    stop.textContent = "Stopping…";
    model.send({ type: "stop" });
  });
  ySelect.addEventListener("change", () => { yChoice = store.ui.y = ySelect.value; schedule(); });
  chartKind.addEventListener("change", () => { kindChoice = store.ui.kind = chartKind.value; schedule(); });
  model.send({ type: "view", open: true, id: viewId });
  schedule();

  return () => {
    if (frame) cancelAnimationFrame(frame);
    clearTimeout(coolTimer);
    store.listeners.delete(onStore);
    model.off("change:stats", onHeader);
    model.off("change:status", onHeader);
    model.off("change:error", onHeader);
    model.off("change:checkpoints", onHeader);
    model.off("change:functions", onHeader);
    model.off("change:chart", onHeader);
    model.off("change:columns", onColumns);
    model.send({ type: "view", open: false, id: viewId });
  };
}

export default { initialize, render };
