// Why, per URL: the most requested URLs, the most missed, those not stored (with why), the
// status codes answered and the ESI fragments included, as /stats keeps them (the names with the most requests, the
// rest under "(other URLs)"; query values are hidden as `*`).
import { $, cell, fmt, requestsOf, shareCell } from "./format.js";
import { why } from "./reasons.js";

/** The tables: their element, what /stats calls them, what each row counts. */
const TABLES = [
  ["urls", "urls", requestsOf],
  ["miss-urls", "miss_urls", (c) => c.misses],
  ["unstored-urls", "unstored_urls", (c) => c.misses + c.bypasses],
  ["statuses", "statuses", requestsOf],
  ["fragments", "fragments", requestsOf],
];
const OTHERS = ["(other URLs)", "(other statuses)"];
/** Rows shown per table. */
const SHOWN = 10;

function code(text) {
  const td = cell("");
  const c = document.createElement("code");
  c.textContent = text;
  td.className = "url";
  td.append(c);
  return td;
}

function renderTable(id, counts, count, total) {
  const names = Object.keys(counts ?? {}).sort((a, b) => OTHERS.includes(a) - OTHERS.includes(b) || count(counts[b]) - count(counts[a]) || a.localeCompare(b));
  const rows = names.slice(0, SHOWN).map((name) => {
    const c = counts[name];
    const tr = document.createElement("tr");
    const reasons = why(c);
    tr.append(code(name), cell(fmt.format(count(c)), "num"), shareCell(count(c), total), cell(c.error ? `up to ${fmt.format(c.error)} more` : "", "num"), cell(reasons, "why"));
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell("None in this window.", "empty");
    td.colSpan = 5;
    tr.append(td);
    rows.push(tr);
  }
  $(id).tBodies[0].replaceChildren(...rows);
}

export function renderUrls(stats, window) {
  const w = stats[window];
  const total = requestsOf(w.total);
  for (const [id, key, count] of TABLES) renderTable(id, w[key], count, total);
}
