// Every option the code accepts is documented in docs/configuration.md: the policy's top-level
// fields and route fields (TOP_FIELDS and ROUTE_FIELDS in core/src/config/parse.rs, the lists
// the parser reads and "did you mean" suggests from), each in the first column of its table;
// the `[vars]` the worker reads (the `*_VAR` names of src/lib.rs) in the `[vars]` table; and
// every binding the code opens, somewhere in the file. And every Cache-Status reason
// (core/src/status.rs) in docs/cache-status.md. A failure names what is missing.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { read, tableRows } from "./markdown.mjs";

const DOC = "docs/configuration.md";

/** The strings of a `const NAME: &[&str] = &[ … ];` in Rust source. */
export function stringArray(source, name) {
  const body = source.match(new RegExp(`const ${name}: &\\[&str\\] = &\\[([\\s\\S]*?)\\];`))?.[1];
  assert.ok(body, `no const ${name} array`);
  return [...body.replace(/\/\/.*$/gm, "").matchAll(/"([^"]+)"/g)].map((m) => m[1]);
}

/** The names in the first column of the table whose header's first cell is `header`. */
export function firstColumn(text, header) {
  const names = new Set();
  let inTable = false;
  let previous = 0;
  for (const { cells, number } of tableRows(text)) {
    // A row that does not follow the previous one starts another table.
    if (number !== previous + 1 && number !== previous + 2) inTable = false;
    previous = number;
    if (cells[0] === header) {
      inTable = true;
      continue;
    }
    if (inTable) for (const m of cells[0].matchAll(/`([^`]+)`/g)) names.add(m[1]);
  }
  return names;
}

const doc = read(DOC);
const parse = read("core/src/config/parse.rs");

describe(`every option the code accepts is in ${DOC}`, () => {
  it("each top-level field of the policy has a row in the EDGECACHE table", () => {
    const fields = stringArray(parse, "TOP_FIELDS");
    assert.ok(fields.length > 20, `TOP_FIELDS read: ${fields}`);
    const documented = firstColumn(doc, "`EDGECACHE.*`");
    const missing = fields.filter((f) => !documented.has(f));
    assert.deepEqual(missing, [], `undocumented top-level options: ${missing.join(", ")}`);
  });

  it("each route field has a row in the route field table", () => {
    const fields = stringArray(parse, "ROUTE_FIELDS");
    assert.ok(fields.length > 10, `ROUTE_FIELDS read: ${fields}`);
    const documented = firstColumn(doc, "route field");
    const missing = fields.filter((f) => !documented.has(f));
    assert.deepEqual(missing, [], `undocumented route fields: ${missing.join(", ")}`);
  });

  it("each variable the worker reads has a row in the [vars] table", () => {
    const vars = [...read("src/lib.rs").matchAll(/pub const [A-Z_]+_VAR: &str = "([^"]+)"/g)].map((m) => m[1]);
    assert.ok(vars.includes("ORIGIN") && vars.includes("EDGECACHE"), `read from src/lib.rs: ${vars}`);
    const documented = firstColumn(doc, "`[vars]`");
    const missing = vars.filter((v) => !documented.has(v));
    assert.deepEqual(missing, [], `undocumented variables: ${missing.join(", ")}`);
  });

  it("each binding the code opens is named", () => {
    const sources = ["core/src/storage/backend.rs", "src/flow/shield.rs", "src/admin/limit.rs", "src/control/plane.rs"];
    const bindings = new Set(sources.flatMap((f) => [...read(f).matchAll(/"(EDGECACHE_[A-Z0-9_]+)"/g)].map((m) => m[1])));
    assert.ok(bindings.size >= 5, `bindings read: ${[...bindings]}`);
    const missing = [...bindings].filter((b) => !doc.includes(`\`${b}\``));
    assert.deepEqual(missing, [], `undocumented bindings: ${missing.join(", ")}`);
  });

  it("each Cache-Status reason the core names is listed in docs/cache-status.md", () => {
    const reasons = [...read("core/src/status.rs").matchAll(/Reason::\w+ => "([a-z-]+)"/g)].map((m) => m[1]);
    assert.ok(reasons.length > 30, `reasons read: ${reasons}`);
    const listed = read("docs/cache-status.md");
    const missing = reasons.filter((r) => !listed.includes(`\`${r}\``));
    assert.deepEqual(missing, [], `reasons documented nowhere: ${missing.join(", ")}`);
  });

  it("the check itself finds an option missing from a table", () => {
    const table = "| `EDGECACHE.*` | default | meaning |\n|---|---|---|\n| `a`, `b` | 1 | x |\n\nother\n\n| route field | default |\n|---|---|\n| `c` | 2 |\n";
    assert.deepEqual([...firstColumn(table, "`EDGECACHE.*`")], ["a", "b"]);
    assert.deepEqual([...firstColumn(table, "route field")], ["c"]);
    assert.deepEqual(stringArray('const X: &[&str] = &[\n  "one", // a comment "not"\n  "two",\n];', "X"), ["one", "two"]);
  });
});
