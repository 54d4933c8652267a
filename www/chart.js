// The traffic section: the cards of the window's totals, the minutes summed into the window's
// slots, and the chart (requests as bars, the hit ratio as a line) with its figures as a table.
import { $, bytes, cell, clock, compact, fmt, pct, requestsOf, share, svg } from "./format.js";

/** The window's totals as cards; `shown` ("hour" or "day") names its slots. */
export function renderCards(window, slots, shown, stats = {}) {
  const t = window.total;
  const total = requestsOf(t);
  // Each tier's hits in the window, and how full this isolate's memory tier is.
  const tiers = Object.entries(window.backends || {}).sort((a, b) => b[1].hits - a[1].hits);
  const tierCards = tiers.map(([name, c]) => [`Hits from ${name}`, fmt.format(c.hits + c.stale), `${share(c.hits + c.stale, total)} of requests`]);
  const memory = stats.memory_bytes != null && stats.memory_max_bytes
    ? [["Memory tier", bytes(stats.memory_bytes), `${share(stats.memory_bytes, stats.memory_max_bytes)} of ${bytes(stats.memory_max_bytes)} (this isolate)`]]
    : [];
  const busiest = Math.max(0, ...slots.map((s) => s.requests));
  const cards = [
    ["Requests", fmt.format(total), null],
    ["Hit ratio", pct(t.hit_ratio), "of requests looked up"],
    ["Hit ratio of what could be stored", pct(t.storable_hit_ratio ?? t.hit_ratio), `${pct(t.uncacheable_share ?? 0)} of requests could not be stored`],
    ["Kept from the origin", pct(t.offload ?? 0), `${fmt.format(t.kept ?? 0)} requests; ${pct(t.shield_share ?? 0)} of them by the shield`],
    ["Bytes kept from the origin", bytes(t.kept_bytes ?? 0), `${bytes(t.shield_kept_bytes ?? 0)} by the shield`],
    ["Hits", fmt.format(t.hits), `${share(t.hits, total)} of requests`],
    ["Stale served", fmt.format(t.stale), `${share(t.stale, total)} of requests`],
    ["Misses", fmt.format(t.misses), `${share(t.misses, total)} of requests`],
    ["Bypasses", fmt.format(t.bypasses), `${share(t.bypasses, total)} of requests`],
    ["Busiest " + (shown === "day" ? "half hour" : "minute"), fmt.format(busiest), "requests"],
    ["Served from cache", bytes(t.bytes_from_cache), null],
    ...tierCards,
    ...memory,
  ];
  $("cards").replaceChildren(
    ...cards.map(([label, value, note]) => {
      const div = document.createElement("div");
      div.className = "card";
      const b = document.createElement("b");
      b.textContent = value;
      const span = document.createElement("span");
      span.textContent = label;
      div.append(b, span);
      if (note) {
        const small = document.createElement("small");
        small.textContent = note;
        div.append(small);
      }
      return div;
    }),
  );
}

/** The chart's windows: the hour as 60 slots of a minute, the day as 48 of half an hour. */
const WINDOWS = {
  hour: { slots: 60, slotMs: 60000, unit: "minute", per: "per minute", title: "the last hour" },
  day: { slots: 48, slotMs: 1800000, unit: "half hour", per: "per 30 minutes", title: "the last 24 hours" },
};

/**
 * The minutes summed into the window's slots, the last one holding now (or the newest minute
 * counted, should this clock be behind the worker's).
 */
export function slotsOf(minutes, window, now) {
  const { slots: count, slotMs } = WINDOWS[window];
  const newest = minutes.length ? minutes[minutes.length - 1].at : 0;
  const reference = Math.max(now, newest);
  const end = reference - (reference % slotMs) + slotMs;
  const first = end - count * slotMs;
  const slots = Array.from({ length: count }, (_, i) => ({ from: first + i * slotMs, requests: 0, hits: 0, misses: 0, bypasses: 0 }));
  for (const minute of minutes) {
    const index = Math.floor((minute.at - first) / slotMs);
    if (index < 0 || index >= count) continue;
    const s = slots[index];
    // A minute's `hits` include the stale answers.
    s.hits += minute.hits;
    s.misses += minute.misses;
    s.bypasses += minute.bypasses;
    s.requests += minute.hits + minute.misses + minute.bypasses;
  }
  for (const s of slots) s.ratio = s.hits + s.misses ? s.hits / (s.hits + s.misses) : null;
  return slots;
}

/** A round step and top for an axis from 0 to at least `max`, in about four steps. */
function niceScale(max) {
  if (max <= 4) return { step: 1, top: Math.max(1, Math.ceil(max)) };
  const rough = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough);
  return { step, top: Math.ceil(max / step) * step };
}

/** Whether an x-axis label goes at the start of this slot (half as many on a narrow chart). */
function labelled(from, window, narrow) {
  const at = new Date(from);
  return window === "day" ? at.getMinutes() === 0 && at.getHours() % (narrow ? 6 : 3) === 0 : at.getMinutes() % (narrow ? 20 : 10) === 0;
}

/**
 * The chart's size in CSS pixels: as wide as its box (so that its text is drawn at the size
 * it is set in, on a phone too), 960 when the box is not laid out yet; a narrow chart is lower
 * and keeps smaller margins.
 */
function chartSize() {
  const width = Math.round($("chart").clientWidth) || 960;
  const W = Math.max(280, Math.min(width, 1200));
  const narrow = W < 600;
  return { W, H: narrow ? 240 : 320, narrow, m: narrow ? { top: 14, right: 60, bottom: 46, left: 48 } : { top: 16, right: 66, bottom: 50, left: 70 } };
}

function slotTitle(s, window) {
  const span = `${clock.format(s.from)}–${clock.format(s.from + WINDOWS[window].slotMs)}`;
  if (!s.requests) return `${span}: no requests`;
  return `${span}: ${fmt.format(s.requests)} requests (${fmt.format(s.hits)} hits, ${fmt.format(s.misses)} misses, ${fmt.format(s.bypasses)} bypasses), hit ratio ${s.ratio == null ? "–" : pct(s.ratio)}`;
}

/** Requests per slot as bars (left axis) and the hit ratio as a line with dots (right axis). */
export function renderChart(slots, window) {
  const { per, title } = WINDOWS[window];
  const { W, H, m, narrow } = chartSize();
  const w = W - m.left - m.right;
  const h = H - m.top - m.bottom;
  const max = Math.max(0, ...slots.map((s) => s.requests));
  const { step, top } = niceScale(max);
  const x = (i) => m.left + (i * w) / slots.length;
  const yCount = (n) => m.top + h - (n / top) * h;
  const yRatio = (r) => m.top + h - r * h;
  const total = slots.reduce((sum, s) => sum + s.requests, 0);
  const cacheable = slots.reduce((sum, s) => sum + s.hits + s.misses, 0);
  const hits = slots.reduce((sum, s) => sum + s.hits, 0);

  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-labelledby": "chart-title" });
  chart.append(
    svg("title", { id: "chart-title" }, total
      ? `Requests ${per} (bars) and hit ratio (line) over ${title}: ${fmt.format(total)} requests, at most ${fmt.format(max)} ${per}, hit ratio ${cacheable ? pct(hits / cacheable) : "–"}.`
      : `Requests ${per} and hit ratio over ${title}: no requests.`),
  );

  const grid = svg("g", { class: "grid" });
  const leftTicks = svg("g", { class: "ticks ticks-left", "text-anchor": "end" });
  for (let n = 0; n <= top + step / 2; n += step) {
    const y = yCount(n);
    grid.append(svg("line", { x1: m.left, x2: m.left + w, y1: y, y2: y }));
    leftTicks.append(svg("text", { x: m.left - 8, y: y + 4 }, compact.format(n)));
  }
  const rightTicks = svg("g", { class: "ticks ticks-right", "text-anchor": "start" });
  for (const r of [0, 0.25, 0.5, 0.75, 1]) rightTicks.append(svg("text", { x: m.left + w + 8, y: yRatio(r) + 4 }, `${r * 100}%`));
  const bottomTicks = svg("g", { class: "ticks ticks-bottom", "text-anchor": "middle" });
  slots.forEach((s, i) => {
    if (!labelled(s.from, window, narrow)) return;
    bottomTicks.append(svg("line", { class: "tick", x1: x(i), x2: x(i), y1: m.top + h, y2: m.top + h + 5 }));
    bottomTicks.append(svg("text", { x: x(i), y: m.top + h + 18 }, clock.format(s.from)));
  });
  chart.append(grid, leftTicks, rightTicks, bottomTicks);

  const bars = svg("g", { class: "bars" });
  const slotWidth = w / slots.length;
  slots.forEach((s, i) => {
    if (!s.requests) return;
    const y = yCount(s.requests);
    const bar = svg("rect", { class: "bar", x: x(i) + slotWidth * 0.12, y, width: slotWidth * 0.76, height: Math.max(1, m.top + h - y) });
    bar.append(svg("title", {}, slotTitle(s, window)));
    bars.append(bar);
  });
  chart.append(bars);

  // The line breaks where a slot had no cacheable request (no ratio to draw).
  let d = "";
  let drawing = false;
  const dots = svg("g", { class: "ratio-dots" });
  slots.forEach((s, i) => {
    if (s.ratio == null) {
      drawing = false;
      return;
    }
    const cx = x(i) + slotWidth / 2;
    const cy = yRatio(s.ratio);
    d += `${drawing ? "L" : "M"}${cx.toFixed(1)},${cy.toFixed(1)}`;
    drawing = true;
    const dot = svg("circle", { class: "ratio-dot", cx, cy, r: 3 });
    dot.append(svg("title", {}, slotTitle(s, window)));
    dots.append(dot);
  });
  // A halo of the panel's colour keeps the line apart from the bars it crosses.
  if (d) chart.append(svg("path", { class: "ratio-halo", d }), svg("path", { class: "ratio-line", d }));
  chart.append(dots);

  chart.append(
    svg("line", { class: "axis", x1: m.left, x2: m.left, y1: m.top, y2: m.top + h }),
    svg("line", { class: "axis", x1: m.left + w, x2: m.left + w, y1: m.top, y2: m.top + h }),
    svg("line", { class: "axis", x1: m.left, x2: m.left + w, y1: m.top + h, y2: m.top + h }),
    svg("text", { class: "axis-title axis-title-left", transform: `translate(${narrow ? 12 : 16} ${m.top + h / 2}) rotate(-90)`, "text-anchor": "middle" }, narrow ? "Requests" : `Requests ${per}`),
    svg("text", { class: "axis-title axis-title-right", transform: `translate(${W - (narrow ? 6 : 10)} ${m.top + h / 2}) rotate(90)`, "text-anchor": "middle" }, "Hit ratio (%)"),
    svg("text", { class: "axis-title axis-title-bottom", x: m.left + w / 2, y: H - 6, "text-anchor": "middle" }, narrow ? "Time (this browser)" : "Time (this browser's clock)"),
  );
  if (!total) chart.append(svg("text", { class: "empty", x: m.left + w / 2, y: m.top + h / 2, "text-anchor": "middle" }, "No requests in this window yet"));
  $("chart").replaceChildren(chart);
  $("legend-bars").textContent = `Requests ${per}`;
  $("chart-caption").textContent = `Requests ${per} and hit ratio over ${title}. The hit ratio counts cacheable requests (hits and stale answers among hits and misses); bypasses are left out.`;

  const rows = slots
    .filter((s) => s.requests)
    .reverse()
    .map((s) => {
      const tr = document.createElement("tr");
      tr.append(cell(clock.format(s.from)), cell(fmt.format(s.requests), "num"), cell(fmt.format(s.hits), "num"), cell(fmt.format(s.misses), "num"), cell(fmt.format(s.bypasses), "num"), cell(s.ratio == null ? "–" : pct(s.ratio), "num"));
      return tr;
    });
  $("chart-table").tBodies[0].replaceChildren(...rows);
}
