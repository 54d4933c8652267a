#!/usr/bin/env node
// The module graph of a crate, one node per file, read from its `use` lines and the paths
// written out in its code: `src/a/b.rs` is `a::b`, `src/a/mod.rs` is `a`, `src/lib.rs` is the
// crate root (printed `(crate root)`). A path names a module when it starts with `crate::`,
// `super::`, `self::` or the name of a module the file declares (`mod child;` then
// `use child::Thing` or `child::f()`); it points at the longest module it names, so
// `super::pass_through` from `flow/cacheable.rs` is an arrow to `flow/mod.rs` and
// `cacheable::serve` from `flow/mod.rs` one back. Declaring a module (`mod child;`) is not an
// arrow; using what it holds is.
//
// Fails on an import cycle between files, on an arrow from a module to one a `--layer` rule
// forbids (`--forbid store:flow` fails any arrow from `store` or below it to `flow` or below
// it), and, with `--pure-crate`, on any use of the Workers runtime's crates.
//
//   node scripts/module-graph.mjs <crate src dir> [--pure-crate] [--forbid FROM:TO]... [--print]
import fs from "node:fs";
import path from "node:path";

const GLUE_CRATES = ["worker", "web_sys", "js_sys", "wasm_bindgen", "wasm_bindgen_futures"];
export const ROOT = "(crate root)";

/** Every `.rs` file under `dir`, as [module path, file]; `bin/` holds other crates. */
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

/** `source` without comments, string literals and its `#[cfg(test)]` module. */
function code(source) {
  const tests = source.search(/#\[cfg\(test\)\]\s*mod\s+\w+\s*\{/);
  return (tests < 0 ? source : source.slice(0, tests))
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/\/\/[^\n]*/g, "")
    .replace(/r(#*)"[\s\S]*?"\1/g, '""')
    .replace(/"(?:\\.|[^"\\])*"/g, '""')
    .replace(/'(?:\\.|[^'\\])'/g, "' '");
}

/** The modules `text` declares with `mod name;` (not inline `mod name { … }` blocks). */
function declared(text) {
  return [...text.matchAll(/(?:^|[\s;{}])(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;/g)].map((m) => m[1]);
}

/** Every path in `text` that may name a module of the crate: the `use` trees, and the paths
 * written out in the code that start with `crate`, `super`, `self` or one of `children`. */
function paths(text, children) {
  const uses = [...text.matchAll(/(?:^|[\s;{}])(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);/g)].map((m) => m[1].replace(/\s+as\s+\w+/g, "").replace(/\s+/g, ""));
  const heads = ["crate", "super", "self", ...children].join("|");
  const inline = [...text.matchAll(new RegExp(`(?<![\\w:])((?:${heads})(?:::\\w+)+)`, "g"))].map((m) => m[1]);
  return [...uses, ...inline];
}

/** The paths of a `use` tree, as written: `a::{b::c,d as e}` → ["a::b::c", "a::d as e"]. */
function leaves(tree) {
  const open = tree.indexOf("{");
  if (open < 0) return [tree];
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
  return parts.filter(Boolean).flatMap((part) => leaves(prefix + part));
}

/** `a::{b::c,d}` → ["a::b::c", "a::d"], without a trailing `::*` or `::self` (aliases are
 * gone: `paths` drops ` as c`). */
export function expand(tree) {
  return leaves(tree).map((path) => path.replace(/::\*$/, "").replace(/::self$/, ""));
}

/** The module path (segments, from the crate root) that `target`, written in module `name`,
 * starts from; `null` for a path into another crate. */
function absolute(target, name, children) {
  let segments = target.split("::").filter(Boolean);
  const here = name ? name.split("::") : [];
  if (segments[0] === "crate") return segments.slice(1);
  if (segments[0] === "super" || segments[0] === "self") {
    const base = [...here];
    while (segments[0] === "super" || segments[0] === "self") {
      if (segments[0] === "super") base.pop();
      segments = segments.slice(1);
    }
    return [...base, ...segments];
  }
  if (children.includes(segments[0])) return [...here, ...segments];
  return null;
}

/** The modules `text` declares under `#[cfg(test)]`: test code, left out of the graph. */
function testModules(text) {
  return [...text.matchAll(/#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;/g)].map((m) => m[1]);
}

/** What `text`'s `pub use` lines re-export: name (or alias) → the path it stands for. */
function reexports(text) {
  const found = new Map();
  for (const m of text.matchAll(/(?:^|[\s;{}])pub(?:\([^)]*\))?\s+use\s+([^;]+);/g)) {
    const tree = m[1].replace(/\s+as\s+/g, " as ").replace(/\s*(::|,|\{|\})\s*/g, "$1").trim();
    for (const item of leaves(tree)) {
      const [target, alias] = item.split(" as ");
      const name = alias ?? target.split("::").at(-1);
      if (name !== "*" && name !== "self") found.set(name, target);
    }
  }
  return found;
}

/** `{ arrows, external }`: for each module (`""` is the crate root), the modules of the crate
 * it uses and the other crates it names. A `pub use` is no arrow of its own: a path through
 * it points at the module it re-exports from. */
export function graph(srcDir) {
  const all = modules(srcDir);
  const texts = new Map(all.map(([name, file]) => [name, code(fs.readFileSync(file, "utf8"))]));
  // Test modules (`#[cfg(test)] mod tests;`) and everything in them are left out.
  const tests = new Set();
  for (const [name, text] of texts) for (const t of testModules(text)) tests.add(name ? `${name}::${t}` : t);
  const isTest = (name) => [...tests].some((t) => name === t || name.startsWith(`${t}::`));
  const mods = all.filter(([name]) => !isTest(name));
  const names = new Set(mods.map(([name]) => name));
  const arrows = new Map(mods.map(([name]) => [name, new Set()]));
  const external = new Map(mods.map(([name]) => [name, new Set()]));
  const children = new Map(mods.map(([name]) => [name, declared(texts.get(name))]));
  const reexported = new Map(
    mods.map(([name]) => {
      const table = new Map();
      for (const [item, target] of reexports(texts.get(name))) {
        const segments = absolute(target, name, children.get(name));
        if (segments) table.set(item, segments);
      }
      return [name, table];
    }),
  );
  // The file that defines what `segments` names: the longest module it names, followed
  // through that module's re-exports.
  const resolve = (segments, depth = 0) => {
    for (let n = segments.length; n >= 0; n--) {
      const candidate = segments.slice(0, n).join("::");
      if (!names.has(candidate)) continue;
      const through = n < segments.length && reexported.get(candidate).get(segments[n]);
      if (through && depth < 16) return resolve([...through, ...segments.slice(n + 1)], depth + 1);
      return candidate;
    }
    return null;
  };
  for (const [name] of mods) {
    const text = texts.get(name).replace(/(?:^|[\s;{}])pub(?:\([^)]*\))?\s+use\s+[^;]+;/g, " ");
    for (const item of paths(text, children.get(name))) {
      for (const target of expand(item)) {
        const segments = absolute(target, name, children.get(name));
        if (!segments) {
          external.get(name).add(target.split("::")[0]);
          continue;
        }
        const module = resolve(segments);
        if (module !== null && module !== name) arrows.get(name).add(module);
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
      if (component.length > 1) found.push(component.map(label).sort());
    }
  };
  for (const v of arrows.keys()) if (!idx.has(v)) visit(v);
  return found;
}

/** A module's printed name. */
export function label(name) {
  return name || ROOT;
}

/** Whether `name` is `layer` or inside it. */
const within = (name, layer) => name === layer || name.startsWith(`${layer}::`);

/** The arrows `rules` (`[from, to]` layers) forbid, as `[from, to]` modules. */
export function forbidden(arrows, rules) {
  const found = [];
  for (const [from, tos] of arrows) {
    for (const to of tos) {
      if (rules.some(([a, b]) => within(from, a) && within(to, b))) found.push([from, to]);
    }
  }
  return found;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const dir = args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--forbid");
  const rules = args.flatMap((a, i) => (args[i - 1] === "--forbid" ? [a.split(":")] : []));
  if (!dir || rules.some((r) => r.length !== 2)) {
    console.error("usage: module-graph.mjs <crate src dir> [--pure-crate] [--forbid FROM:TO]... [--print]");
    process.exit(2);
  }
  const { arrows, external } = graph(dir);
  let failed = false;
  if (args.includes("--print")) {
    for (const [from, tos] of arrows) for (const to of tos) console.log(`${label(from)} -> ${label(to)}`);
  }
  for (const component of cycles(arrows)) {
    console.error(`import cycle in ${dir}: ${component.join(" <-> ")}`);
    failed = true;
  }
  for (const [from, to] of forbidden(arrows, rules)) {
    console.error(`${dir}: ${label(from)} uses ${label(to)}, which its layer must not reach`);
    failed = true;
  }
  if (args.includes("--pure-crate")) {
    for (const [from, crates] of external) {
      const glue = [...crates].filter((c) => GLUE_CRATES.includes(c));
      if (glue.length) {
        console.error(`${dir}: ${label(from)} uses ${glue.join(", ")}: the core must not reach the runtime`);
        failed = true;
      }
    }
  }
  const count = [...arrows.values()].reduce((n, tos) => n + tos.size, 0);
  const verdict = failed ? "FAILED" : `no cycle${rules.length ? ", no forbidden arrow" : ""}${args.includes("--pure-crate") ? ", pure" : ""}`;
  console.log(`${dir}: ${arrows.size} files, ${count} arrows, ${verdict}`);
  process.exit(failed ? 1 : 0);
}
