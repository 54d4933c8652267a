// "Why not stored": what each reason of Cache-Status's `detail=` means, the reasons of a set of
// counters as text, and the table of every reason in the window with its shares.
import { $, cell, fmt, requestsOf, share, shareCell } from "./format.js";

/** Reasons that mean the request was never looked up; the others, that an answer was not stored. */
const NOT_LOOKED_UP = new Set(["route-bypass", "bypass-cookie", "method", "config-error", "loop-detected", "admin"]);
/** What each reason (`detail=` of Cache-Status, src/status.rs) means. */
const REASONS = {
  "route-bypass": "Its route says bypass = true.",
  "bypass-cookie": "The request carried a cookie named in bypass_cookies (a logged-in user).",
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
  "validator-mismatch": "The origin answered a revalidation with a 304 for another response, and again without validators: the stored body was answered, nothing kept.",
  "no-cache": "Cache-Control: no-cache without a validator to revalidate it by.",
  "stale-on-arrival": "Already stale on arrival, and neither revalidatable nor servable stale.",
  "too-large": "The body is over max_body_bytes.",
  "body-error": "The origin broke the body off.",
  "storage-error": "A storage tier failed.",
  "origin-unreachable": "The origin could not be reached.",
  "origin-timeout": "The origin did not answer within origin_timeout_ms.",
  upgrade: "The request asked to switch protocols (a WebSocket): passed to the origin as sent.",
  "shield-unavailable": "The shield could not be asked (it failed, was overloaded or late): this location asked the origin itself.",
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
  return `${kind}: ${REASONS[reason] ?? "see docs/cache-status.md."}`;
}

/** The reasons in a set of counters, most frequent first. */
const reasonsOf = (counters) => Object.entries(counters.reasons || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));

/** `private 12 (30.0%), set-cookie 3 (7.5%)`: shares of the row's requests. */
export function why(counters) {
  const total = requestsOf(counters);
  return reasonsOf(counters)
    .map(([reason, n]) => `${reason} ${fmt.format(n)} (${share(n, total)})`)
    .join(", ");
}

export function renderReasons(window) {
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
