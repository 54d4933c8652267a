// Inspecting a key: why, in words (the route, each tier, why the last day's requests were not
// stored), what each tier holds for a URL (and request headers) as a table, and the first
// record found as JSON.
import { api } from "./api.js";
import { $, cell } from "./format.js";

/** The inspect form's submit. */
export async function submitInspect(event) {
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
    const why = document.createElement("ul");
    why.id = "inspect-why";
    for (const sentence of found.why || []) {
      const li = document.createElement("li");
      li.textContent = sentence;
      why.append(li);
    }
    const detail = document.createElement("pre");
    detail.textContent = JSON.stringify(found.tiers.find((t) => t.present) || found, null, 2);
    out.replaceChildren(key, why, table, detail);
  } catch (error) {
    if (error.message === "unauthorized") return;
    const p = document.createElement("p");
    p.className = "result bad";
    p.textContent = `Inspection failed: ${error.message}`;
    out.replaceChildren(p);
  }
}
