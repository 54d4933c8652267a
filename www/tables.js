// The routes and hosts tables: each row's counts, its share of the window's requests and why
// its requests were not stored.
import { $, cell, fmt, pct, requestsOf, shareCell } from "./format.js";
import { why } from "./reasons.js";

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

export function renderRoutes(stats, window) {
  const counts = stats[window].routes;
  const total = requestsOf(stats[window].total);
  const rules = new Map(stats.config.routes.map((r) => [r.path, r]));
  const names = new Set([...stats.config.routes.map((r) => r.path), ...Object.keys(counts)]);
  const rows = [...names].map((name) => {
    const rule = rules.get(name);
    const describe = name === "(other routes)"
      ? "routes not kept by name"
      : rule
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

export function renderHosts(stats, window) {
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
