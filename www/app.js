// The edgecache dashboard: talks to the admin API beside it with the token kept in
// sessionStorage (this tab only). No cookies, no external resources: it works offline.
"use strict";

const base = location.pathname.replace(/\/(index\.html)?$/, "");
const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "edgecache-token";

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function show(message, kind = "error") {
  const box = $("message");
  box.textContent = message;
  box.className = kind === "info" ? "info" : "";
  box.hidden = !message;
}

/** Calls the admin API; a 401 signs out with a clear message. */
async function api(path, init = {}) {
  let response;
  try {
    response = await fetch(base + path, { ...init, headers: { ...(init.headers || {}), authorization: `Bearer ${token()}` } });
  } catch (error) {
    throw new Error(`The worker could not be reached (${error.message}).`);
  }
  let body = {};
  try {
    body = await response.json();
  } catch {
    // A non-JSON answer: the status says enough.
  }
  if (response.status === 401) {
    signOut();
    show("The token was refused (401 Unauthorized). Check ADMIN_TOKEN and sign in again.");
    throw new Error("unauthorized");
  }
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  $("app").hidden = true;
  $("login").hidden = false;
  $("signout").hidden = true;
}

const fmt = new Intl.NumberFormat();
const pct = (ratio) => `${(ratio * 100).toFixed(1)}%`;
const bytes = (n) => (n > 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : n > 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** The window shown: "hour" or "day"; the last stats read, to switch without asking again. */
let shown = "hour";
let lastStats = null;

function renderCards(window) {
  const t = window.total;
  const cards = [
    ["Hit ratio", pct(t.hit_ratio)],
    ["Requests", fmt.format(t.hits + t.stale + t.misses + t.bypasses)],
    ["Hits", fmt.format(t.hits)],
    ["Stale served", fmt.format(t.stale)],
    ["Misses", fmt.format(t.misses)],
    ["Bypasses", fmt.format(t.bypasses)],
    ["Served from cache", bytes(t.bytes_from_cache)],
  ];
  $("cards").replaceChildren(
    ...cards.map(([label, value]) => {
      const div = document.createElement("div");
      div.className = "card";
      const b = document.createElement("b");
      b.textContent = value;
      const span = document.createElement("span");
      span.textContent = label;
      div.append(b, span);
      return div;
    }),
  );
}

/**
 * The minutes as `slots` bars of `slotMs` each, ending with the newest: the hour as 60 bars of
 * a minute, the day as 48 bars of half an hour.
 */
function bars(minutes, slots, slotMs) {
  const last = minutes.length ? minutes[minutes.length - 1].at : Date.now();
  const end = last - (last % slotMs) + slotMs;
  const out = Array.from({ length: slots }, (_, i) => ({ at: end - (slots - i) * slotMs, hits: 0, misses: 0 }));
  for (const minute of minutes) {
    const index = slots - 1 - Math.floor((end - 1 - minute.at) / slotMs);
    if (index < 0 || index >= slots) continue;
    out[index].hits += minute.hits;
    out[index].misses += minute.misses;
  }
  return out;
}

/** An inline SVG bar chart of the hit ratio per slot. */
function renderChart(minutes, window) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  const width = 600;
  const height = 160;
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 20}`);
  svg.setAttribute("role", "img");
  const day = window === "day";
  svg.setAttribute("aria-label", day ? "Hit ratio per half hour" : "Hit ratio per minute");
  const axis = document.createElementNS(ns, "line");
  Object.entries({ x1: 0, y1: height, x2: width, y2: height, stroke: "#dde3e8" }).forEach(([k, v]) => axis.setAttribute(k, v));
  svg.append(axis);
  const slots = day ? bars(minutes, 48, 1800000) : bars(minutes, 60, 60000);
  const slot = width / slots.length;
  slots.forEach((s, index) => {
    const total = s.hits + s.misses;
    if (!total) return;
    const ratio = s.hits / total;
    const bar = document.createElementNS(ns, "rect");
    const h = Math.max(2, ratio * height);
    Object.entries({ x: index * slot + 1, y: height - h, width: slot - 2, height: h, fill: "#0b6bcb" }).forEach(([k, v]) => bar.setAttribute(k, v));
    const title = document.createElementNS(ns, "title");
    title.textContent = `${new Date(s.at).toLocaleTimeString()}: ${pct(ratio)} of ${total}`;
    bar.append(title);
    svg.append(bar);
  });
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", 0);
  label.setAttribute("y", height + 16);
  label.setAttribute("font-size", "11");
  label.setAttribute("fill", "#5f6b73");
  label.textContent = minutes.length ? (day ? "24 h ago → now" : "60 min ago → now") : "no traffic yet";
  svg.append(label);
  $("chart").replaceChildren(svg);
  $("chart-caption").textContent = day
    ? "Hit ratio per half hour over the last 24 hours (cacheable requests; bypasses left out)."
    : "Hit ratio per minute over the last hour (cacheable requests; bypasses left out).";
}

/** The reasons requests were not stored (or not looked up), most frequent first. */
function why(counters) {
  return Object.entries(counters.reasons || {})
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${reason} ${fmt.format(n)}`)
    .join(", ");
}

const EMPTY = { hits: 0, stale: 0, misses: 0, bypasses: 0, hit_ratio: 0, reasons: {} };

function countCells(c) {
  return [cell(fmt.format(c.hits), "num"), cell(fmt.format(c.stale), "num"), cell(fmt.format(c.misses), "num"), cell(fmt.format(c.bypasses), "num"), cell(pct(c.hit_ratio), "num"), cell(why(c), "why")];
}

function renderRoutes(stats, window) {
  const counts = stats[window].routes;
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
    tr.append(cell(name), cell(describe), ...countCells(counts[name] || EMPTY));
    return tr;
  });
  $("routes").tBodies[0].replaceChildren(...rows);
}

function renderHosts(stats, window) {
  const counts = stats[window].hosts;
  const rows = Object.keys(counts)
    .sort()
    .map((host) => {
      const tr = document.createElement("tr");
      tr.append(cell(host), ...countCells(counts[host]));
      return tr;
    });
  $("hosts").tBodies[0].replaceChildren(...rows);
}

function render() {
  if (!lastStats) return;
  for (const button of document.querySelectorAll(".window button")) button.setAttribute("aria-pressed", String(button.dataset.window === shown));
  renderCards(lastStats[shown]);
  renderChart(lastStats.minutes, shown);
  renderRoutes(lastStats, shown);
  renderHosts(lastStats, shown);
}

/** The purge log, newest first; `older` appends the next page. */
let logCursor = null;
async function loadLog(older = false) {
  const query = older && logCursor != null ? `?before=${logCursor}` : "";
  const { purges, next } = await api(`/purges${query}`);
  logCursor = next;
  $("log-older").hidden = next == null;
  const rows = purges.map((p) => {
    const what = [p.all ? "everything" : null, ...p.urls.map((u) => `url ${u}`), ...p.prefixes.map((x) => `prefix ${x}`), ...p.tags.map((t) => `tag ${t}`)].filter(Boolean).join(", ");
    const tr = document.createElement("tr");
    tr.append(cell(String(p.seq), "num"), cell(new Date(p.at).toLocaleString()), cell(p.token), cell(what), cell(p.soft ? "soft" : "hard"));
    return tr;
  });
  if (older) $("log").tBodies[0].append(...rows);
  else $("log").tBodies[0].replaceChildren(...rows);
}

async function refresh() {
  lastStats = await api("/stats");
  render();
  await loadLog();
}

for (const button of document.querySelectorAll(".window button")) {
  button.addEventListener("click", () => {
    shown = button.dataset.window;
    render();
  });
}

$("log-older").addEventListener("click", () => loadLog(true).catch((error) => show(error.message)));

async function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
  try {
    await refresh();
  } catch (error) {
    if (error.message !== "unauthorized") show(error.message);
    return;
  }
  show("");
  $("login").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
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

$("purge-kind").addEventListener("change", () => {
  $("purge-target-label").hidden = $("purge-kind").value === "all";
});

$("purge-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const kind = $("purge-kind").value;
  const target = $("purge-target").value.trim();
  const soft = $("purge-soft").checked;
  const result = $("purge-result");
  if (kind !== "all" && !target) {
    result.textContent = "Give a target to purge.";
    result.className = "result bad";
    return;
  }
  const what = kind === "all" ? "EVERYTHING in the cache" : `${kind.replace(/s$/, "")} ${target}`;
  if (!confirm(`${soft ? "Soft-purge" : "Purge"} ${what}?`)) return;
  const body = kind === "all" ? { all: true, soft } : { [kind]: [target], soft };
  try {
    const answer = await api("/purge", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    result.textContent = `Done: ${answer.results.map((r) => `${r.type} ${r.target ?? ""} ${r.effect}`.replace("  ", " ")).join("; ")}. Effective here now, everywhere within ${answer.effective_everywhere_within_s} s.`;
    result.className = "result ok";
    $("purge-target").value = "";
    await refresh();
  } catch (error) {
    if (error.message === "unauthorized") return;
    result.textContent = `Purge failed: ${error.message}`;
    result.className = "result bad";
  }
});

$("inspect-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const params = new URLSearchParams({ url: $("inspect-url").value.trim() });
  for (const line of $("inspect-headers").value.split("\n").map((l) => l.trim()).filter(Boolean)) params.append("header", line);
  const out = $("inspect-result");
  try {
    const found = await api(`/inspect?${params}`);
    const table = document.createElement("table");
    table.innerHTML = "<thead><tr><th>Tier</th><th>Present</th><th>Age</th><th>TTL</th><th>Tags</th><th>Standing</th></tr></thead>";
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

if (token()) signIn(token());
