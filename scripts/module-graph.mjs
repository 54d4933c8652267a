#!/usr/bin/env node
// The module graph of a crate, read from its `use` lines and the paths written out in its
// code: one node per file (`src/a/b.rs` is
// `a::b`, `src/a/mod.rs` is `a`), one arrow per `use crate::…`/`use super::…` naming another
// module. Fails on an import cycle, and on an arrow from a module listed as pure to one that is
// not, or to a crate outside the allowed list.
//
//   node scripts/module-graph.mjs <crate src dir> [--pure-crate] [--print]
//
// `--pure-crate`: every module must be pure: no `worker`, `web_sys`, `js_sys`,
// `wasm_bindgen*` anywhere in the crate. `--print`: print the arrows.
import fs from "node:fs";
import path from "node:path";

const GLUE_CRATES = ["worker", "web_sys", "js_sys", "wasm_bindgen", "wasm_bindgen_futures"];

/** Every `.rs` file under `dir`, as [module path, file]. */
function modules(dir) {
  const found = [];
  const walk = (at) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".rs")) found.push(full);
    }
  };
  walk(dir);
  return found
    .filter((file) => !file.includes(`${path.sep}bin${path.sep}`))
    .map((file) => {
      let rel = path.relative(dir, file).replace(/\.rs$/, "").split(path.sep);
      if (rel.at(-1) === "mod" || (rel.length === 1 && rel[0] === "lib")) rel = rel.slice(0, -1);
      return [rel.join("::"), file];
    });
}

/** The text of every `use` item in `source`, and every path from `crate::` or `super::` written
 * in its code (comments, strings and test modules removed first). */
function useItems(source) {
  const tests = source.search(/#\[cfg\(test\)\]\s*mod\s+\w+\s*\{/);
  const code = (tests < 0 ? source : source.slice(0, tests))
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/[^\n]*/g, "")
    .replace(/r#*"[\s\S]*?"#*/g, '""')
    .replace(/"(?:\\.|[^"\\])*"/g, '""');
  const uses = [...code.matchAll(/(?:^|[\s;{}])(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);/g)].map((m) => m.at(1).replace(/\s+/g, ""));
  // Paths written out in the code (`super::fill::keep_secs(…)`) are arrows too.
  const inline = [...code.matchAll(/(?<![\w:])((?:crate|super)(?:::\w+)+)/g)].map((m) => m.at(1));
  return [...uses, ...inline];
}

/** `a::{b::c,d}` → ["a::b::c", "a::d"]. */
export function expand(tree) {
  const open = tree.indexOf("{");
  if (open < 0) return [tree.replace(/::\*$/, "").replace(/::self$/, "").replace(/\bas\w+$/, "")];
  const prefix = tree.slice(0, open);
  const inner = tree.slice(open + 1, tree.lastIndexOf("}"));
  const parts = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    if (inner[i] === "{") depth++;
    else if (inner[i] === "}") depth--;
    else if (inner[i] === "," && depth === 0) {
      parts.push(inner.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(inner.slice(start));
  return parts.filter(Boolean).flatMap((part) => expand(prefix + part));
}

export function graph(srcDir) {
  const mods = modules(srcDir);
  const names = new Set(mods.map(([name]) => name));
  const arrows = new Map(mods.map(([name]) => [name, new Set()]));
  const external = new Map(mods.map(([name]) => [name, new Set()]));
  for (const [name, file] of mods) {
    const source = fs.readFileSync(file, "utf8");
    for (const item of useItems(source)) {
      for (let target of expand(item)) {
        target = target.replace(/as\w+$/, "");
        let segments = target.split("::");
        if (segments[0] === "crate") segments = segments.slice(1);
        else if (segments[0] === "super" || segments[0] === "self") {
          const base = name ? name.split("::") : [];
          // A file's `self` is its own module; `super` its parent.
          while (segments[0] === "super" || segments[0] === "self") {
            if (segments[0] === "super") base.pop();
            segments = segments.slice(1);
          }
          segments = [...base, ...segments];
        } else {
          external.get(name).add(segments[0]);
          continue;
        }
        // The longest module the path names.
        let target_module = null;
        for (let n = segments.length; n >= 0; n--) {
          const candidate = segments.slice(0, n).join("::");
          if (names.has(candidate)) {
            target_module = candidate;
            break;
          }
        }
        // The crate root declares every module: an arrow to it (a constant of lib.rs) is not a
        // dependency between modules. Nor is one to a module's own parent or itself.
        if (target_module && target_module !== name && !name.startsWith(`${target_module}::`)) arrows.get(name).add(target_module);
      }
    }
  }
  return { arrows, external };
}

/** Strongly connected components with more than one module (Tarjan). */
export function cycles(arrows) {
  let index = 0;
  const stack = [];
  const on = new Set();
  const idx = new Map();
  const low = new Map();
  const found = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of arrows.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of arrows.keys()) if (!idx.has(v)) visit(v);
  return found;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, ...flags] = process.argv.slice(2);
  if (!dir) {
    console.error("usage: module-graph.mjs <crate src dir> [--pure-crate] [--print]");
    process.exit(2);
  }
  const { arrows, external } = graph(dir);
  let failed = false;
  if (flags.includes("--print")) {
    for (const [from, tos] of arrows) for (const to of tos) console.log(`${from || "(crate root)"} -> ${to}`);
  }
  for (const component of cycles(arrows)) {
    console.error(`import cycle in ${dir}: ${component.join(" <-> ")}`);
    failed = true;
  }
  if (flags.includes("--pure-crate")) {
    for (const [from, crates] of external) {
      const glue = [...crates].filter((c) => GLUE_CRATES.includes(c));
      if (glue.length) {
        console.error(`${dir}: ${from || "(crate root)"} uses ${glue.join(", ")}: the core must not reach the runtime`);
        failed = true;
      }
    }
  }
  const count = [...arrows.values()].reduce((n, tos) => n + tos.size, 0);
  console.log(`${dir}: ${arrows.size} modules, ${count} arrows, ${failed ? "FAILED" : "no cycle"}${flags.includes("--pure-crate") && !failed ? ", pure" : ""}`);
  process.exit(failed ? 1 : 0);
}
