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

  it("sees the loops between a module and its own files: a four-file crate with both", () => {
    // `flow/mod.rs` uses its child `cacheable` by a relative path (`use cacheable::serve`),
    // which reads like another crate's name, and `cacheable` calls `super::pass_through`, an
    // item of its parent; `runtime/fields.rs` and `flow/origin.rs` use each other.
    const dir = crate({
      "lib.rs": "pub mod flow;\npub mod runtime;\n",
      "flow/mod.rs": "pub mod cacheable;\npub mod origin;\nuse cacheable::serve;\npub fn pass_through() {}\n",
      "flow/cacheable.rs": "pub fn serve() { super::pass_through(); }\n",
      "flow/origin.rs": "use crate::runtime::fields::copy;\npub const HOP: &str = \"x\";\n",
      "runtime/mod.rs": "pub mod fields;\n",
      "runtime/fields.rs": "const NAMES: &[&str] = &[crate::flow::origin::HOP];\npub fn copy() {}\n",
    });
    const found = cycles(graph(dir).arrows);
    assert.deepEqual(found.sort(), [["flow", "flow::cacheable"], ["flow::origin", "runtime::fields"]]);
    const result = check(dir);
    assert.equal(result.ok, false);
    assert.match(result.out, /import cycle in .*: flow <-> flow::cacheable/);
    assert.match(result.out, /import cycle in .*: flow::origin <-> runtime::fields/);
  });

  it("follows a re-export to the file that defines the item, and leaves `mod` lines and aliases alone", () => {
    // `http/mod.rs` re-exports `fields::media_type`; `deception.rs` uses it through the
    // facade: that is an arrow to `fields`, not to `http`, which uses `deception`.
    const dir = crate({
      "lib.rs": "pub mod http;\n",
      "http/mod.rs": "pub mod deception;\nmod fields;\npub use fields::{media_type, Fields as F};\nuse deception::armour as assemble;\n",
      "http/deception.rs": "use super::media_type;\npub fn armour() {}\n",
      "http/fields.rs": "pub fn media_type() {}\npub trait Fields {}\n",
    });
    const { arrows } = graph(dir);
    assert.deepEqual([...arrows.get("http::deception")], ["http::fields"]);
    assert.deepEqual([...arrows.get("http")], ["http::deception"]);
    assert.deepEqual(cycles(arrows), []);
  });

  it("fails an arrow up from a forbidden layer, and passes the same crate without the rule", () => {
    const dir = crate({
      "lib.rs": "pub mod flow;\npub mod store;\n",
      "flow/mod.rs": "pub mod coalesce;\n",
      "flow/coalesce.rs": "pub struct Ticket;\n",
      "store/mod.rs": "use crate::flow::coalesce::Ticket;\n",
    });
    assert.equal(check(dir).ok, true);
    const result = check(dir, "--forbid", "store:flow");
    assert.equal(result.ok, false);
    assert.match(result.out, /store uses flow::coalesce, which its layer must not reach/);
  });

  it("leaves test modules out, in their own files too", () => {
    const dir = crate({
      "lib.rs": "pub mod a;\npub mod b;\n",
      "a.rs": "use crate::b::Y;\n#[cfg(test)]\nmod tests;\n",
      "a/tests.rs": "use crate::a::*;\n",
      "b.rs": "pub struct Y;\n#[cfg(test)]\nmod checks;\n",
      "b/checks.rs": "use crate::a::X;\n",
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
