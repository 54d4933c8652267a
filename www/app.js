// The edgecache dashboard: talks to the admin API beside it with the token kept in
// sessionStorage (this tab only). No cookies, no external resources: it works offline.
// It refreshes itself every 10 s (`?refresh=<seconds>` sets another interval), one request
// at a time, while the tab is visible and until it is paused or the token is refused.
"use strict";

const base = location.pathname.replace(/\/(index\.html)?$/, "");
const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "edgecache-token";
/** The longest a call may take before it counts as failed (the next refresh tries again). */
const CALL_TIMEOUT_MS = 30000;

/** The refresh interval: `?refresh=<seconds>` (at least 0.2, at most an hour), else 10 s. */
const REFRESH_MS = (() => {
  const seconds = Number(new URLSearchParams(location.search).get("refresh"));
  return Number.isFinite(seconds) && seconds >= 0.2 ? Math.min(seconds, 3600) * 1000 : 10000;
})();

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** What #message shows, and whether an automatic refresh put it there. */
let messageFromRefresh = false;
function show(message, kind = "error") {
  const box = $("message");
  box.textContent = message;
  box.className = kind === "info" ? "info" : "";
  box.hidden = !message;
  messageFromRefresh = false;
}

/** Calls the admin API; a 401 signs out (which stops the refresh) with a clear message. */
async function api(path, init = {}) {
  let response;
  try {
    response = await fetch(base + path, {
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      ...init,
      headers: { ...(init.headers || {}), authorization: `Bearer ${token()}` },
    });
  } catch (error) {
    if (error.name === "TimeoutError") throw new Error(`The worker did not answer within ${CALL_TIMEOUT_MS / 1000} s.`);
    throw new Error(`The worker could not be reached (${error.message}).`);
  }
  let body = {};
  try {
    body = await response.json();
  } catch {
    // A non-JSON answer: the status says enough.
  }
  if (response.status === 401) {
    const wasIn = signedIn;
    signOut();
    show(`The token was refused (401 Unauthorized).${wasIn ? " Automatic refresh stopped." : ""} Check ADMIN_TOKEN and sign in again.`);
    throw new Error("unauthorized");
  }
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

const fmt = new Intl.NumberFormat();
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
const pct = (ratio) => `${(ratio * 100).toFixed(1)}%`;
const share = (n, total) => (total ? pct(n / total) : "–");
const bytes = (n) => (n > 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : n > 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const clockSeconds = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
/** Requests counted in a set of counters. */
const requestsOf = (c) => c.hits + c.stale + c.misses + c.bypasses;

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

const SVG = "http://www.w3.org/2000/svg";
/** An SVG element with attributes (never a style attribute: the CSP forbids inline styles). */
function svg(name, attributes = {}, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text != null) element.textContent = text;
  return element;
}

/** A share as text and as a small bar beside it (the text alone carries the figure). */
function shareCell(n, total) {
  const td = document.createElement("td");
  td.className = "share";
  const ratio = total ? n / total : 0;
  const bar = svg("svg", { width: 64, height: 8, viewBox: "0 0 64 8", "aria-hidden": "true", class: "sharebar" });
  bar.append(svg("rect", { class: "sharebar-track", x: 0, y: 0, width: 64, height: 8, rx: 2 }));
  if (ratio > 0) bar.append(svg("rect", { class: "sharebar-fill", x: 0, y: 0, width: Math.max(1, ratio * 64), height: 8, rx: 2 }));
  const text = document.createElement("span");
  text.textContent = share(n, total);
  td.append(bar, text);
  return td;
}

// --- Why requests were not stored -----------------------------------------------------------

/** Reasons that mean the request was never looked up; the others, that an answer was not stored. */
const NOT_LOOKED_UP = new Set(["route-bypass", "method", "config-error", "loop-detected", "admin"]);
/** What each reason (`detail=` of Cache-Status, src/status.rs) means. */
const REASONS = {
  "route-bypass": "Its route says bypass = true.",
  method: "A method the cache does not answer (POST, PUT, DELETE, …), forwarded as it is.",
  "config-error": "The cache policy is broken: every request is forwarded.",
  "loop-detected": "The request had already passed through this worker.",
  admin: "edgecache's own admin API.",
  "no-store": "The origin said Cache-Control: no-store.",
  private: "The origin said Cache-Control: private (one user's answer).",
  "set-cookie": "The answer sets a cookie (a cookie is one user's).",
  "cookie-without-freshness": "The request carried a cookie and the answer stated no lifetime.",
  "vary-star": "The answer said Vary: *.",
  authorization: "The request carried credentials and the answer did not say public, s-maxage or must-revalidate.",
  "partial-content": "A 206 Partial Content answer.",
  "uncacheable-status": "A status that is stored only with an explicit lifetime (500, 302, …).",
  "no-cache": "Cache-Control: no-cache without a validator to revalidate it by.",
  "stale-on-arrival": "Already stale on arrival, and neither revalidatable nor servable stale.",
  "too-large": "The body is over max_body_bytes.",
  "body-error": "The origin broke the body off.",
  "storage-error": "A storage tier failed.",
  "origin-unreachable": "The origin could not be reached.",
  "origin-timeout": "The origin did not answer within origin_timeout_ms.",
  "request-no-store": "The request said Cache-Control: no-store.",
  "request-no-cache": "The request asked for a fresh answer.",
  "head-not-stored": "A HEAD with nothing stored: forwarded as HEAD, not stored.",
  range: "A Range request that no stored answer could serve.",
  "only-if-cached": "The request said only-if-cached and nothing was stored.",
  "content-type-mismatch": "Under a route's ttl, a credentialed request got an answer of another type than its extension names (deception armour).",
  credentials: "A forced refresh from a client with credentials: its answer is not shared.",
  "vary-unsent": "The answer varies on a field the origin was not sent.",
  "purge-standing-unknown": "The control plane could not be asked for longer than purge_grace_s, so nothing stored was served (the answer was stored).",
  "stale-while-revalidate": "Served stale while a refresh ran.",
  "max-stale": "Served stale as the request allowed.",
  "stale-if-error": "Served stale because the origin failed.",
  "soft-purged": "Soft-purged: served stale once more while refreshing.",
  "refresh-limited": "A forced refresh answered from an entry stored moments ago.",
};

function reasonMeaning(reason) {
  const kind = NOT_LOOKED_UP.has(reason) ? "Not looked up" : "Not stored";
  return `${kind}: ${REASONS[reason] ?? "see Cache-Status in the README."}`;
}

/** The reasons in a set of counters, most frequent first. */
const reasonsOf = (counters) => Object.entries(counters.reasons || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));

/** `private 12 (30.0%), set-cookie 3 (7.5%)`: shares of the row's requests. */
function why(counters) {
  const total = requestsOf(counters);
  return reasonsOf(counters)
    .map(([reason, n]) => `${reason} ${fmt.format(n)} (${share(n, total)})`)
    .join(", ");
}

function renderReasons(window) {
  const t = window.total;
  const total = requestsOf(t);
  const toOrigin = t.misses + t.bypasses;
  const reasons = reasonsOf(t);
  const explained = reasons.reduce((sum, [, n]) => sum + n, 0);
  const rows = reasons.map(([reason, n]) => {
    const tr = document.createElement("tr");
    const name = cell("", "reason");
    const code = document.createElement("code");
    code.textContent = reason;
    name.append(code);
    tr.append(name, cell(reasonMeaning(reason), "meaning"), cell(fmt.format(n), "num"), shareCell(n, total), shareCell(n, toOrigin));
    return tr;
  });
  // Misses without a reason were stored: the ordinary way to the origin.
  if (toOrigin > explained) {
    const n = toOrigin - explained;
    const tr = document.createElement("tr");
    tr.className = "plain";
    tr.append(cell("(none)", "reason"), cell("Went to the origin and its answer was stored (an ordinary miss).", "meaning"), cell(fmt.format(n), "num"), shareCell(n, total), shareCell(n, toOrigin));
    rows.push(tr);
  }
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell(total ? "Every request in this window was answered from the cache." : "No requests in this window.", "empty");
    td.colSpan = 5;
    tr.append(td);
    rows.push(tr);
  }
  $("reasons").tBodies[0].replaceChildren(...rows);
  const wentToOrigin = `${fmt.format(toOrigin)} of ${fmt.format(total)} requests (${share(toOrigin, total)}) went to the origin: ${fmt.format(t.misses)} misses, ${fmt.format(t.bypasses)} bypasses.`;
  $("reasons-summary").textContent = !total
    ? "No requests in this window."
    : explained
      ? `${wentToOrigin} ${fmt.format(explained)} of them (${share(explained, total)} of all requests) were not stored or not looked up, for these reasons:`
      : `${wentToOrigin} None of them was refused storage or a look-up.`;
}

// --- Cards and chart ------------------------------------------------------------------------

function renderCards(window, slots) {
  const t = window.total;
  const total = requestsOf(t);
  const busiest = Math.max(0, ...slots.map((s) => s.requests));
  const cards = [
    ["Requests", fmt.format(total), null],
    ["Hit ratio", pct(t.hit_ratio), "of cacheable requests"],
    ["Hits", fmt.format(t.hits), `${share(t.hits, total)} of requests`],
    ["Stale served", fmt.format(t.stale), `${share(t.stale, total)} of requests`],
    ["Misses", fmt.format(t.misses), `${share(t.misses, total)} of requests`],
    ["Bypasses", fmt.format(t.bypasses), `${share(t.bypasses, total)} of requests`],
    ["Busiest " + (shown === "day" ? "half hour" : "minute"), fmt.format(busiest), "requests"],
    ["Served from cache", bytes(t.bytes_from_cache), null],
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
function slotsOf(minutes, window, now) {
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

/** Whether an x-axis label goes at the start of this slot. */
function labelled(from, window) {
  const at = new Date(from);
  return window === "day" ? at.getMinutes() === 0 && at.getHours() % 3 === 0 : at.getMinutes() % 10 === 0;
}

function slotTitle(s, window) {
  const span = `${clock.format(s.from)}–${clock.format(s.from + WINDOWS[window].slotMs)}`;
  if (!s.requests) return `${span}: no requests`;
  return `${span}: ${fmt.format(s.requests)} requests (${fmt.format(s.hits)} hits, ${fmt.format(s.misses)} misses, ${fmt.format(s.bypasses)} bypasses), hit ratio ${s.ratio == null ? "–" : pct(s.ratio)}`;
}

/** Requests per slot as bars (left axis) and the hit ratio as a line with dots (right axis). */
function renderChart(slots, window) {
  const { per, title } = WINDOWS[window];
  const W = 960;
  const H = 320;
  const m = { top: 16, right: 66, bottom: 50, left: 70 };
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

  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "chart-title" });
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
    if (!labelled(s.from, window)) return;
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
    svg("text", { class: "axis-title axis-title-left", transform: `translate(16 ${m.top + h / 2}) rotate(-90)`, "text-anchor": "middle" }, `Requests ${per}`),
    svg("text", { class: "axis-title axis-title-right", transform: `translate(${W - 10} ${m.top + h / 2}) rotate(90)`, "text-anchor": "middle" }, "Hit ratio (%)"),
    svg("text", { class: "axis-title axis-title-bottom", x: m.left + w / 2, y: H - 6, "text-anchor": "middle" }, "Time (this browser's clock)"),
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

// --- Routes and hosts -----------------------------------------------------------------------

const EMPTY = { hits: 0, stale: 0, misses: 0, bypasses: 0, hit_ratio: 0, reasons: {} };

function countCells(c, total) {
  return [
    cell(fmt.format(requestsOf(c)), "num"),
    shareCell(requestsOf(c), total),
    cell(fmt.format(c.hits), "num"),
    cell(fmt.format(c.stale), "num"),
    cell(fmt.format(c.misses), "num"),
    cell(fmt.format(c.bypasses), "num"),
    cell(c.hits + c.stale + c.misses ? pct(c.hit_ratio) : "–", "num"),
    cell(why(c), "why"),
  ];
}

function renderRoutes(stats, window) {
  const counts = stats[window].routes;
  const total = requestsOf(stats[window].total);
  const rules = new Map(stats.config.routes.map((r) => [r.path, r]));
  const names = new Set([...stats.config.routes.map((r) => r.path), ...Object.keys(counts)]);
  const rows = [...names].map((name) => {
    const rule = rules.get(name);
    const describe = rule
      ? [rule.bypass ? "bypass" : null, rule.ttl != null ? `ttl ${rule.ttl}s` : null, rule.browser_ttl != null ? `browser ${rule.browser_ttl}s` : null, rule.backends.join(" → "), rule.tags.length ? `tags ${rule.tags.join(", ")}` : null]
          .filter(Boolean)
          .join("; ")
      : `default policy (${stats.config.backends.join(" → ")})`;
    const tr = document.createElement("tr");
    const route = cell("");
    const code = document.createElement("code");
    code.textContent = name;
    route.append(code);
    tr.append(route, cell(describe), ...countCells(counts[name] || EMPTY, total));
    return tr;
  });
  $("routes").tBodies[0].replaceChildren(...rows);
}

const OTHER_HOSTS = "(other hosts)";

function renderHosts(stats, window) {
  const counts = stats[window].hosts;
  const total = requestsOf(stats[window].total);
  const names = Object.keys(counts).sort((a, b) => (a === OTHER_HOSTS) - (b === OTHER_HOSTS) || requestsOf(counts[b]) - requestsOf(counts[a]) || a.localeCompare(b));
  const rows = names.map((host) => {
    const tr = document.createElement("tr");
    tr.append(cell(host), ...countCells(counts[host], total));
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell("No requests in this window.", "empty");
    td.colSpan = 9;
    tr.append(td);
    rows.push(tr);
  }
  $("hosts").tBodies[0].replaceChildren(...rows);
  $("hosts-note").hidden = !(OTHER_HOSTS in counts);
}

/** The window shown: "hour" or "day"; the last stats read, to switch without asking again. */
let shown = "hour";
let lastStats = null;

function render() {
  if (!lastStats) return;
  for (const button of document.querySelectorAll(".window button")) button.setAttribute("aria-pressed", String(button.dataset.window === shown));
  const window = lastStats[shown];
  const slots = slotsOf(lastStats.minutes, shown, Date.now());
  renderCards(window, slots);
  renderChart(slots, shown);
  renderReasons(window);
  renderRoutes(lastStats, shown);
  renderHosts(lastStats, shown);
}

// --- Purge log ------------------------------------------------------------------------------

/** The purges shown, newest first; `logCursor` is the `before` of the next older page. */
let logEntries = [];
let logCursor = null;
let olderLoaded = false;

function describePurge(p) {
  return [p.all ? "everything" : null, ...p.urls.map((u) => `url ${u}`), ...p.prefixes.map((x) => `prefix ${x}`), ...p.tags.map((t) => `tag ${t}`)].filter(Boolean).join(", ");
}

/** Reads the newest page (merged into what is shown, older pages kept) or, `older`, the next one. */
async function loadLog(older = false, session = signInCount) {
  const query = older && logCursor != null ? `?before=${logCursor}` : "";
  const { purges, next } = await api(`/purges${query}`);
  if (session !== signInCount) return;
  if (older) olderLoaded = true;
  if (older || !olderLoaded) logCursor = next;
  const bySeq = new Map(logEntries.map((p) => [p.seq, p]));
  for (const p of purges) bySeq.set(p.seq, p);
  logEntries = [...bySeq.values()].sort((a, b) => b.seq - a.seq);
  $("log-older").hidden = logCursor == null;
  $("log").tBodies[0].replaceChildren(
    ...logEntries.map((p) => {
      const tr = document.createElement("tr");
      tr.append(cell(String(p.seq), "num"), cell(new Date(p.at).toLocaleString()), cell(p.token), cell(describePurge(p)), cell(p.soft ? "soft" : "hard"));
      return tr;
    }),
  );
}

// --- Refreshing -----------------------------------------------------------------------------

/** Whether the app is shown; `signInCount` tells answers to an earlier sign-in apart. */
let signedIn = false;
let signInCount = 0;
const auto = { paused: false, timer: null, running: false, again: false, updated: 0 };

async function refresh(session = signInCount) {
  const stats = await api("/stats");
  if (session !== signInCount) return;
  lastStats = stats;
  render();
  await loadLog(false, session);
  if (session === signInCount) auto.updated = Date.now();
}

function showRefreshState() {
  $("refresh").hidden = !signedIn;
  $("refresh-toggle").textContent = auto.paused ? "Resume auto-refresh" : "Pause auto-refresh";
  const updated = auto.updated ? `updated ${clockSeconds.format(auto.updated)}` : "not updated yet";
  const every = `${REFRESH_MS / 1000} s`;
  $("refresh-status").textContent = auto.paused ? `Auto-refresh paused; ${updated}.` : document.hidden ? `Auto-refresh waits for this tab; ${updated}.` : `Auto-refresh every ${every}; ${updated}.`;
}

/** Plans the next refresh, an interval after the last one ended (so none overlap). */
function schedule() {
  clearTimeout(auto.timer);
  auto.timer = null;
  showRefreshState();
  if (!signedIn || auto.paused || document.hidden) return;
  const wait = Math.max(0, auto.updated + REFRESH_MS - Date.now());
  auto.timer = setTimeout(tick, auto.updated ? wait : REFRESH_MS);
}

/** One refresh, unless one is under way (then another right after it, if `again`). */
async function tick(again = false) {
  auto.timer = null;
  if (auto.running) {
    auto.again ||= again;
    return;
  }
  auto.running = true;
  const session = signInCount;
  try {
    await refresh(session);
    if (session === signInCount && messageFromRefresh) show("");
  } catch (error) {
    if (error.message !== "unauthorized" && session === signInCount) {
      show(`Refreshing failed (${error.message.replace(/\.$/, "")}); trying again in ${REFRESH_MS / 1000} s.`);
      messageFromRefresh = true;
      // A failed refresh counts as one for the interval too.
      auto.updated = Date.now();
    }
  } finally {
    auto.running = false;
    if (session === signInCount) {
      if (auto.again && !auto.paused) {
        auto.again = false;
        tick();
      } else {
        schedule();
      }
    }
  }
}

$("refresh-toggle").addEventListener("click", () => {
  auto.paused = !auto.paused;
  if (auto.paused) {
    clearTimeout(auto.timer);
    auto.timer = null;
    auto.again = false;
  } else {
    tick(true);
  }
  showRefreshState();
});

// A hidden tab asks nothing (each refresh costs two control-plane requests).
document.addEventListener("visibilitychange", () => {
  if (signedIn && !auto.running) schedule();
});

for (const button of document.querySelectorAll(".window button")) {
  button.addEventListener("click", () => {
    shown = button.dataset.window;
    render();
  });
}

$("log-older").addEventListener("click", () => loadLog(true).catch((error) => show(error.message)));

// --- Signing in and out ---------------------------------------------------------------------

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  signedIn = false;
  signInCount++;
  clearTimeout(auto.timer);
  auto.timer = null;
  auto.updated = 0;
  lastStats = null;
  logEntries = [];
  logCursor = null;
  olderLoaded = false;
  $("app").hidden = true;
  $("login").hidden = false;
  $("signout").hidden = true;
  showRefreshState();
}

async function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
  const session = ++signInCount;
  try {
    await refresh(session);
  } catch (error) {
    if (error.message !== "unauthorized") show(error.message);
    return;
  }
  if (session !== signInCount) return;
  show("");
  signedIn = true;
  $("login").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  schedule();
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn($("token").value.trim());
  $("token").value = "";
});

$("signout").addEventListener("click", () => {
  signOut();
  show("Signed out.", "info");
});

// --- Purging --------------------------------------------------------------------------------

const KINDS = [
  { field: "urls", one: "URL", many: "URLs" },
  { field: "prefixes", one: "prefix", many: "prefixes" },
  { field: "tags", one: "tag", many: "tags" },
];

/**
 * The targets in a field: one a line, or several on a line separated by commas. In URLs and
 * prefixes a comma separates only before a space, `/` or a scheme, so a comma inside a URL
 * stays in it.
 */
function targetsIn(text, field) {
  const separator = field === "tags" ? /,/ : /,(?=\s|\/|[a-z][a-z0-9+.-]*:\/\/)/i;
  const targets = text
    .split(/\r?\n/)
    .flatMap((line) => line.split(separator))
    .map((t) => t.trim())
    .filter(Boolean);
  return [...new Set(targets)];
}

function isHttpUrl(text) {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.host !== "";
  } catch {
    return false;
  }
}

/** What is wrong with a target, as far as the form can tell (the API checks the rest). */
function targetProblem(target, field) {
  if (field === "tags") return /^[\x21-\x7e]+$/.test(target) ? null : "a tag is printable ASCII without spaces or commas";
  if (/\s/.test(target)) return "a target holds no spaces: put one per line";
  if (field === "prefixes") return target.startsWith("/") || isHttpUrl(target) ? null : "a prefix is a path starting with / or an absolute http(s) URL";
  if (target.startsWith("/")) return "not an absolute URL: give the whole URL, or put a path in Prefixes";
  return isHttpUrl(target) ? null : "not an absolute http(s) URL";
}

function countPhrase(n, kind) {
  return `${fmt.format(n)} ${n === 1 ? kind.one : kind.many}`;
}

function purgeOutput(summary, className, errors = [], results = null) {
  const result = $("purge-result");
  result.textContent = summary;
  result.className = `result ${className}`;
  $("purge-errors").replaceChildren(
    ...errors.map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }),
  );
  $("purge-results").hidden = !results;
  $("purge-results").tBodies[0].replaceChildren(
    ...(results || []).map((r) => {
      const tr = document.createElement("tr");
      tr.append(cell(r.type), cell(r.target ?? "everything"), cell(r.effect === "stale" ? "stale (soft: served once more while refreshing)" : r.effect));
      return tr;
    }),
  );
}

$("purge-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const all = $("purge-all").checked;
  const soft = $("purge-soft").checked;
  const body = { soft };
  const errors = [];
  for (const kind of KINDS) {
    const input = $(`purge-${kind.field}`);
    const targets = targetsIn(input.value, kind.field);
    const bad = targets.map((t) => [t, targetProblem(t, kind.field)]).filter(([, problem]) => problem);
    for (const [t, problem] of bad) errors.push(`${kind.many[0].toUpperCase()}${kind.many.slice(1)}: “${t}”: ${problem}.`);
    input.setAttribute("aria-invalid", String(bad.length > 0));
    if (targets.length) body[kind.field] = targets;
  }
  if (all) body.all = true;
  if (errors.length) {
    purgeOutput(`Nothing was purged: ${errors.length === 1 ? "a target is" : `${errors.length} targets are`} not valid.`, "bad", errors);
    return;
  }
  const counts = KINDS.filter((k) => body[k.field]).map((k) => countPhrase(body[k.field].length, k));
  if (!all && !counts.length) {
    purgeOutput("Give at least one URL, prefix or tag, or tick Everything.", "bad");
    return;
  }
  const what = all ? "EVERYTHING in the cache" : counts.join(", ");
  if (!confirm(`${soft ? "Soft-purge" : "Purge"} ${what}?`)) return;
  const button = $("purge-submit");
  button.disabled = true;
  try {
    const answer = await api("/purge", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const results = answer.results || [];
    purgeOutput(
      `Purge #${answer.seq} done: ${results.length} ${results.length === 1 ? "target" : "targets"}${soft ? ", soft" : ""}. In effect here now, everywhere within ${answer.effective_everywhere_within_s} s${answer.removed_from_memory ? `; ${fmt.format(answer.removed_from_memory)} entries dropped from this isolate's memory` : ""}.`,
      "ok",
      [],
      results,
    );
    for (const kind of KINDS) $(`purge-${kind.field}`).value = "";
    $("purge-all").checked = false;
    tick(true);
  } catch (error) {
    if (error.message === "unauthorized") return;
    purgeOutput(`Purge failed, nothing was purged: ${error.message}`, "bad");
  } finally {
    button.disabled = false;
  }
});

// --- Inspecting -----------------------------------------------------------------------------

$("inspect-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const params = new URLSearchParams({ url: $("inspect-url").value.trim() });
  for (const line of $("inspect-headers").value.split("\n").map((l) => l.trim()).filter(Boolean)) params.append("header", line);
  const out = $("inspect-result");
  try {
    const found = await api(`/inspect?${params}`);
    const table = document.createElement("table");
    const head = document.createElement("thead");
    const headRow = document.createElement("tr");
    for (const name of ["Tier", "Present", "Age", "TTL", "Tags", "Standing"]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = name;
      headRow.append(th);
    }
    head.append(headRow);
    table.append(head);
    const body = document.createElement("tbody");
    for (const tier of found.tiers) {
      const tr = document.createElement("tr");
      tr.append(cell(tier.backend), cell(tier.present ? "yes" : "no"), cell(tier.present ? `${tier.age} s` : ""), cell(tier.present ? `${tier.ttl} s` : ""), cell((tier.tags || []).join(", ")), cell(tier.purge_standing || ""));
      body.append(tr);
    }
    table.append(body);
    const key = document.createElement("p");
    key.textContent = `Key: ${found.key}${found.route ? ` (route ${found.route})` : ""}`;
    const detail = document.createElement("pre");
    detail.textContent = JSON.stringify(found.tiers.find((t) => t.present) || found, null, 2);
    out.replaceChildren(key, table, detail);
  } catch (error) {
    if (error.message === "unauthorized") return;
    const p = document.createElement("p");
    p.className = "result bad";
    p.textContent = `Inspection failed: ${error.message}`;
    out.replaceChildren(p);
  }
});

showRefreshState();
if (token()) signIn(token());
