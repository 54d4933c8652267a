// The origin's side: what was kept from it (offload) per route, host and tag with the shield's
// share, how it answered (its time to the response headers as a histogram, the median and
// 95th percentile read from it, its errors), and each storage tier's hits and fill.
import { $, bytes, cell, fmt, pct, requestsOf, share, shareCell } from "./format.js";

/** The offload tables: their element, what /stats calls them, the name of the rest. */
const OFFLOAD = [
  ["offload-routes", "routes", "(other routes)"],
  ["offload-hosts", "hosts", "(other hosts)"],
  ["offload-tags", "tags", "(other tags)"],
];
/** Rows shown per table. */
const SHOWN = 10;

function empty(colSpan, text) {
  const tr = document.createElement("tr");
  const td = cell(text, "empty");
  td.colSpan = colSpan;
  tr.append(td);
  return tr;
}

function renderOffloadTable(id, counts, other) {
  const names = Object.keys(counts ?? {}).sort((a, b) => (a === other) - (b === other) || (counts[b].kept ?? 0) - (counts[a].kept ?? 0) || a.localeCompare(b));
  const rows = names.slice(0, SHOWN).map((name) => {
    const c = counts[name];
    const tr = document.createElement("tr");
    const first = cell("");
    const code = document.createElement("code");
    code.textContent = name;
    first.append(code);
    tr.append(
      first,
      cell(fmt.format(requestsOf(c)), "num"),
      cell(fmt.format(c.kept ?? 0), "num"),
      shareCell(c.kept ?? 0, requestsOf(c)),
      cell(bytes(c.kept_bytes ?? 0), "num"),
      cell(c.kept ? pct(c.shield_share ?? 0) : "–", "num"),
    );
    return tr;
  });
  $(id).tBodies[0].replaceChildren(...(rows.length ? rows : [empty(6, id === "offload-tags" ? "No route with tags had requests in this window." : "None in this window.")]));
}

/** The origin's answers: figures, errors and the histogram of its response times. */
function renderOrigin(o) {
  const at = (ms) => (ms == null ? "–" : `≤ ${fmt.format(ms)} ms`);
  const figures = [
    ["Origin requests", fmt.format(o.requests)],
    ["Median time to headers", at(o.p50_ms_at_most)],
    ["95th percentile", o.answered && o.p95_ms_at_most == null ? "> 30 s" : at(o.p95_ms_at_most)],
    ["Mean", o.mean_ms == null ? "–" : `${fmt.format(Math.round(o.mean_ms))} ms`],
    ["Errors", `${fmt.format(o.errors)} (${share(o.errors, o.requests)})`],
    ["Timeouts", fmt.format(o.timeouts)],
    ["Unreachable", fmt.format(o.unreachable)],
    ["5xx answers", fmt.format(o.server_errors)],
  ];
  $("origin-figures").replaceChildren(
    ...figures.map(([name, value]) => {
      const div = document.createElement("div");
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value;
      div.append(dt, dd);
      return div;
    }),
  );
  let from = 0;
  const rows = (o.buckets ?? []).map((b) => {
    const tr = document.createElement("tr");
    const span = b.le_ms == null ? `over ${fmt.format(from)} ms` : `${fmt.format(from)}–${fmt.format(b.le_ms)} ms`;
    from = b.le_ms;
    tr.append(cell(span, "nowrap"), cell(fmt.format(b.requests), "num"), shareCell(b.requests, o.answered));
    return tr;
  });
  $("origin-times").tBodies[0].replaceChildren(...(o.answered ? rows : [empty(3, "No answer from the origin in this window.")]));
}

/** Each tier: its hits and bytes served in the window, and how full it is where that is known. */
function renderTiers(stats, window) {
  const used = stats.config?.backends ?? [];
  const counts = window.backends ?? {};
  const names = [...new Set([...used, ...Object.keys(counts)])];
  const total = requestsOf(window.total);
  const rows = names.map((name) => {
    const c = counts[name] ?? { hits: 0, stale: 0, bytes_from_cache: 0 };
    const fill = name === "memory" && stats.memory_max_bytes
      ? `${bytes(stats.memory_bytes ?? 0)} of ${bytes(stats.memory_max_bytes)} (${share(stats.memory_bytes ?? 0, stats.memory_max_bytes)}), this isolate`
      : "not measured: the runtime tells no size";
    const tr = document.createElement("tr");
    tr.append(cell(name), cell(fmt.format(c.hits + c.stale), "num"), shareCell(c.hits + c.stale, total), cell(bytes(c.bytes_from_cache ?? 0), "num"), cell(fill, "fill"));
    return tr;
  });
  $("tiers").tBodies[0].replaceChildren(...(rows.length ? rows : [empty(5, "No tier.")]));
}

export function renderOriginSide(stats, shown) {
  const window = stats[shown];
  for (const [id, key, other] of OFFLOAD) renderOffloadTable(id, window[key], other);
  renderOrigin(window.origin ?? { requests: 0, answered: 0, errors: 0, timeouts: 0, unreachable: 0, server_errors: 0, buckets: [] });
  renderTiers(stats, window);
}
