// Purging: the purge log (newest first, older pages on demand) and the purge form, which takes
// any mix of URLs, prefixes and tags, names every target it refuses and then sends nothing.
import { api, session } from "./api.js";
import { $, cell, fmt } from "./format.js";

/** The purges shown, newest first; `logCursor` is the `before` of the next older page. */
let logEntries = [];
let logCursor = null;
let olderLoaded = false;

function describePurge(p) {
  return [p.all ? "everything" : null, ...p.urls.map((u) => `url ${u}`), ...p.prefixes.map((x) => `prefix ${x}`), ...p.tags.map((t) => `tag ${t}`)].filter(Boolean).join(", ");
}

/** Reads the newest page (merged into what is shown, older pages kept) or, `older`, the next one. */
export async function loadLog(older = false, count = session.count) {
  const query = older && logCursor != null ? `?before=${logCursor}` : "";
  const { purges, next } = await api(`/purges${query}`);
  if (count !== session.count) return;
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

/** Forgets the purges shown (on signing out). */
export function forgetLog() {
  logEntries = [];
  logCursor = null;
  olderLoaded = false;
}

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

/** The purge form's submit: checks every target, asks to confirm, purges, then `afterPurge()`. */
export async function submitPurge(event, afterPurge) {
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
      // The registry refuses these entries everywhere all the same; they are only not removed here.
      (answer.not_deleted || []).map((e) => `Not removed here from ${e.backend} (${e.operation}): ${e.error}`),
      results,
    );
    for (const kind of KINDS) $(`purge-${kind.field}`).value = "";
    $("purge-all").checked = false;
    afterPurge();
  } catch (error) {
    if (error.message === "unauthorized") return;
    purgeOutput(`Purge failed, nothing was purged: ${error.message}`, "bad");
  } finally {
    button.disabled = false;
  }
}
