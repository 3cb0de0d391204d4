// nbstream live view: the data side of the front end, without the DOM (tested on node).
// A store per model keeps the newest `limit` rows the kernel sent (a Map by row id, oldest
// first), applies deltas {from, to, rows: [[id, cells, label, time], ...], removed: [ids]}
// and snapshots, and keeps per key a short history of values for the chart.

export const HISTORY = 1000; // points kept per key for the chart
export const TOP_KEYS = 10; // keys charted unless the user picks others

export function createStore(limit) {
  // ui: what a view was showing, so a re-rendered view (e.g. the job's final display
  // update) keeps its scroll position and choices
  return {
    version: 0, limit, rows: new Map(), history: new Map(), listeners: new Set(), waiting: false,
    ui: { scrollTop: 0, y: null, kind: "auto", tz: "UTC", picked: null, sort: null, filter: "" },
  };
}

function remember(store, cells, label, time) {
  const key = label == null ? "all" : label;
  let points = store.history.get(key);
  if (!points) store.history.set(key, (points = []));
  points.push([time, cells]);
  if (points.length > HISTORY * 1.25) points.splice(0, points.length - HISTORY);
}

// Apply one delta (oldest row first). Returns {changed, evicted, removed, gap}; a delta the
// store already has is ignored.
export function applyDelta(store, delta) {
  const out = { changed: [], evicted: [], removed: [], gap: false };
  if (!delta || delta.to <= store.version) return out;
  out.gap = delta.from > store.version;
  for (const id of delta.removed || []) {
    if (store.rows.delete(id)) out.removed.push(id);
  }
  for (const [id, cells, label, time] of delta.rows) {
    store.rows.delete(id);
    store.rows.set(id, { cells, label, time });
    remember(store, cells, label, time);
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
  for (const [id, cells, label, time] of snapshot.rows) {
    store.rows.set(id, { cells, label, time });
    if (!store.history.size) remember(store, cells, label, time);
  }
  while (store.rows.size > store.limit) store.rows.delete(store.rows.keys().next().value);
  store.version = snapshot.version;
  store.waiting = false;
}

const isNum = (v) => typeof v === "number" && Number.isFinite(v);

// The lines to chart for value column `y`: Map key -> [[x, y], ...] sorted by x. x is the
// spec's x column (a window's end), else each row's time. Keyed values that are updated in
// place (a rolling max per key) come from the history, so they chart over time.
export function seriesOf(store, columns, spec, y) {
  const yi = columns.indexOf(y);
  const series = new Map();
  if (yi < 0) return series;
  const xi = spec && spec.x ? columns.indexOf(spec.x) : -1;
  const add = (label, x, v) => {
    if (!isNum(x) || !isNum(v)) return;
    const key = label == null ? "all" : label;
    let points = series.get(key);
    if (!points) series.set(key, (points = []));
    points.push([x, v]);
  };
  if (xi < 0 && spec && (spec.mode === "keyed" || spec.mode === "changelog")) {
    for (const [key, points] of store.history) {
      for (const [time, cells] of points) add(key, time, cells[yi]);
    }
  } else {
    for (const { cells, label, time } of store.rows.values()) {
      add(label, xi >= 0 ? cells[xi] : time, cells[yi]);
    }
  }
  for (const points of series.values()) points.sort((a, b) => a[0] - b[0]);
  return series;
}

// Keys ranked by their newest value (largest first); the shown ones are the user's pick or
// the top `n`. Returns {shown, all, hidden}.
export function pickKeys(series, picked, n = TOP_KEYS) {
  const all = [...series.keys()].sort((a, b) => {
    const pa = series.get(a), pb = series.get(b);
    return Math.abs(pb[pb.length - 1][1]) - Math.abs(pa[pa.length - 1][1]) || String(a).localeCompare(String(b));
  });
  const shown = picked ? all.filter((k) => picked.has(k)) : all.slice(0, n);
  return { shown, all, hidden: all.length - shown.length };
}

// uPlot's aligned data: [xs, ys of key 1, ys of key 2, ...] over the union of the shown
// keys' x values (the newest `cap`), null where a key has no value at an x.
export function aligned(series, keys, cap = 4000) {
  const xsSet = new Set();
  for (const k of keys) for (const [x] of series.get(k) || []) xsSet.add(x);
  let xs = [...xsSet].sort((a, b) => a - b);
  if (xs.length > cap) xs = xs.slice(xs.length - cap);
  const index = new Map(xs.map((x, i) => [x, i]));
  const data = [xs];
  for (const k of keys) {
    const ys = new Array(xs.length).fill(null);
    for (const [x, v] of series.get(k) || []) {
      const i = index.get(x);
      if (i !== undefined) ys[i] = v;
    }
    data.push(ys);
  }
  return data;
}

// The current value per key (bars), largest first.
export function barsOf(series, keys) {
  return keys.map((k) => { const p = series.get(k); return [k, p[p.length - 1][1]]; });
}

// -- formatting -------------------------------------------------------------------------------

const pad = (n, w = 2) => String(n).padStart(w, "0");

export function fmtTime(ms, tz = "UTC", withDate = true) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  const utc = tz === "UTC";
  const date = utc ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
    : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = utc ? `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
    : `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const millis = d.getUTCMilliseconds();
  return (withDate ? `${date} ` : "") + time + (millis ? `.${pad(millis, 3)}` : "");
}

// Tick labels of a time axis in ISO 8601 (uPlot's own are US style: "9/29", "1:05pm"), in
// UTC or local time: the time of day as precise as the ticks' spacing (`incr`, ms) needs,
// and the date under it on the first tick and wherever the day changes; date-only ticks
// (a day apart or more) are dates.
export function timeTicks(splits, incr, tz = "UTC") {
  let lastDate = null;
  return splits.map((ms) => {
    const d = new Date(ms);
    if (Number.isNaN(d.getTime())) return "";
    const utc = tz === "UTC";
    const date = utc ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
      : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    const hm = utc ? `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}` : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    const s = pad(utc ? d.getUTCSeconds() : d.getSeconds());
    const clock = incr >= 86400000 ? "" : incr >= 60000 ? hm
      : incr >= 1000 ? `${hm}:${s}` : `${hm}:${s}.${pad(d.getUTCMilliseconds(), 3)}`;
    const label = !clock ? date : date !== lastDate ? `${clock}\n${date}` : clock;
    lastDate = date;
    return label;
  });
}

export function fmtNumber(v) {
  if (typeof v !== "number") return v == null ? "" : String(v);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return v.toLocaleString("en-US", { maximumFractionDigits: 3 });
}

export const isMillis = (v) => isNum(v) && v > 1e11 && v < 1e14;

export function fmtCell(v, column, times, tz) {
  if (times && times.has(column) && isMillis(v)) return fmtTime(v, tz);
  return fmtNumber(v);
}

export function fmtDuration(s) {
  if (!isNum(s) || s < 0) return "-";
  if (s < 60) return `${Math.ceil(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

// "1,234 of 2,000 (62 %), ETA 3 s" for a job whose sources know their size.
export function progressText(stats) {
  const p = stats && stats.progress;
  if (!p || !p.total) return "";
  const pct = Math.floor((100 * p.done) / p.total);
  const rate = stats.rate || 0;
  const left = p.total - p.done;
  const eta = left <= 0 ? "" : rate > 0 ? `, ETA ${fmtDuration(left / rate)}` : "";
  return `${fmtNumber(p.done)} of ${fmtNumber(p.total)} (${pct} %)${eta}`;
}

// " · +I 3 -U 40 +U 40 -D 0": how many changes of each kind a table's changelog brought
// (stats.changelog, set for a changelog view only), or "".
export function changelogText(counts) {
  if (!counts) return "";
  return " · " + ["+I", "-U", "+U", "-D"].map((k) => `${k} ${fmtNumber(counts[k] || 0)}`).join(" ");
}

// -- the table ----------------------------------------------------------------------------------

// Row ids in the order the table shows them: newest first, or sorted by a column; only
// the rows with a cell containing `filter` (case-insensitive) when it is set.
export function tableOrder(store, columns, { sort = null, filter = "", times = null, tz = "UTC" } = {}) {
  let ids = [...store.rows.keys()].reverse();
  const needle = filter.trim().toLowerCase();
  if (needle) {
    ids = ids.filter((id) => store.rows.get(id).cells.some(
      (v, i) => fmtCell(v, columns[i], times, tz).toLowerCase().includes(needle)));
  }
  if (sort && columns.includes(sort.column)) {
    const i = columns.indexOf(sort.column);
    const dir = sort.desc ? -1 : 1;
    ids.sort((a, b) => {
      const va = store.rows.get(a).cells[i], vb = store.rows.get(b).cells[i];
      if (va == null || vb == null) return va == null ? (vb == null ? 0 : 1) : -1;
      if (isNum(va) && isNum(vb)) return (va - vb) * dir;
      return String(va).localeCompare(String(vb)) * dir;
    });
  }
  return ids;
}

function csvField(v) {
  const s = v == null ? "" : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// The kept rows as CSV (oldest first), time columns as ISO 8601 UTC.
export function toCsv(store, columns, times) {
  const lines = [columns.map(csvField).join(",")];
  for (const { cells } of store.rows.values()) {
    lines.push(cells.map((v, i) => csvField(times && times.has(columns[i]) && isMillis(v)
      ? new Date(v).toISOString() : v)).join(","));
  }
  return lines.join("\n") + "\n";
}
