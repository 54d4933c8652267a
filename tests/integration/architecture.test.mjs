// The architecture check (scripts/module-graph.mjs) itself: it finds an import cycle and a
// pure crate that reaches the runtime, and passes a crate that has neither.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cycles, expand, graph } from "../../scripts/module-graph.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const script = path.join(root, "scripts/module-graph.mjs");

function crate(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "edgecache-graph-"));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

function check(dir, ...flags) {
  try {
    return { ok: true, out: execFileSync(process.execPath, [script, dir, ...flags], { encoding: "utf8", stdio: "pipe" }) };
  } catch (error) {
    return { ok: false, out: `${error.stdout}${error.stderr}` };
  }
}

describe("the module graph check", () => {
  it("expands nested use trees", () => {
    assert.deepEqual(expand("crate::{a::{b,c::D},e}"), ["crate::a::b", "crate::a::c::D", "crate::e"]);
  });

  it("fails on an import cycle, through a folder module too", () => {
    const dir = crate({
      "lib.rs": "pub mod a; pub mod store;",
      "a.rs": "use crate::store::Entry;\n",
      "store/mod.rs": "mod kv;\nuse crate::a::Thing;\n",
      "store/kv.rs": "use super::Entry;\n",
    });
    const { arrows } = graph(dir);
    assert.deepEqual(cycles(arrows), [["a", "store"]]);
    const result = check(dir);
    assert.equal(result.ok, false);
    assert.match(result.out, /import cycle in .*: a <-> store/);
  });

  it("passes a crate without cycles, and ignores test modules and comments", () => {
    const dir = crate({
      "lib.rs": "pub mod a; pub mod b;",
      "a.rs": "// use crate::b::X;\nuse crate::b::Y;\n",
      "b.rs": "pub struct Y;\n#[cfg(test)]\nmod tests {\n    use crate::a::*;\n}\n",
    });
    assert.equal(check(dir).ok, true);
  });

  it("fails a pure crate that uses the runtime", () => {
    const dir = crate({ "lib.rs": "pub mod a;", "a.rs": "use web_sys::Headers;\n" });
    const result = check(dir, "--pure-crate");
    assert.equal(result.ok, false);
    assert.match(result.out, /uses web_sys/);
  });
});
