#!/usr/bin/env node
// A `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER` that runs `wasm-bindgen-test` tests inside
// workerd (through Miniflare) instead of Node, so that tests reach a real local Workers KV
// namespace and Cache API — Node has neither.
//
// What wasm-bindgen-test-runner does for Node, done for workerd: list the test exports
// (`__wbgt_*`), run the pinned `wasm-bindgen` CLI on the test Wasm (`--target web`), wrap the
// bindings in a worker module whose fetch handler builds a `WasmBindgenTestContext` and runs
// the tests, start Miniflare with a KV namespace (`TEST_KV`) and the cache enabled, ask the
// worker once, print what the tests printed, and exit non-zero if any failed.
//
// Tests reach the worker's `env` as `globalThis.__edgecache_test_env` (set before any test
// runs). Usage: `runner <test.wasm> [filter…] [--exact] [--skip X] [--include-ignored]`; cargo
// passes the Wasm path first and `cargo test -- <args>` after it.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Miniflare } from "miniflare";
import { COMPATIBILITY_DATE } from "../tests/support/worker.mjs";

const [wasmPath, ...args] = process.argv.slice(2);
if (!wasmPath) {
  console.error("usage: wasm-test-runner.mjs <test.wasm> [filter…] [--exact] [--skip FILTER] [--include-ignored]");
  process.exit(2);
}

const filters = [];
let exact = false;
let includeIgnored = false;
let ignoredOnly = false;
let list = false;
const skips = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === "--exact") exact = true;
  else if (arg === "--include-ignored") includeIgnored = true;
  else if (arg === "--ignored") ignoredOnly = true;
  else if (arg === "--list") list = true;
  else if (arg === "--skip") skips.push(args[++i]);
  else if (["--test-threads", "--format", "--color", "--logfile", "-Z"].includes(arg)) i++; // with a value
  else if (arg.startsWith("-")) continue; // --nocapture, --quiet, --format=… : no effect here
  else filters.push(arg);
}

// Test exports are named `__wbgt_<modifiers>_<crate>::<path>`; a `$` modifier marks #[ignore].
const bytes = fs.readFileSync(wasmPath);
const matches = (name, pattern) => (exact ? name === pattern : name.includes(pattern));
const tests = [];
let filtered = 0;
for (const { name: exported } of WebAssembly.Module.exports(new WebAssembly.Module(bytes))) {
  if (!exported.startsWith("__wbgt_")) continue;
  const modifiers = exported.slice("__wbgt_".length).split("_")[0];
  const at = exported.indexOf("::");
  if (at < 0) continue;
  const name = exported.slice(at + 2);
  const ignored = modifiers.includes("$");
  if ((filters.length > 0 && !filters.some((f) => matches(name, f))) || skips.some((s) => matches(name, s)) || (ignoredOnly && !ignored)) {
    filtered++;
    continue;
  }
  tests.push({ name, exported });
}
if (list) {
  for (const t of tests) console.log(`${t.name}: test`);
  process.exit(0);
}
if (tests.length === 0) {
  console.log("no tests to run!");
  process.exit(0);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "edgecache-wbt-"));
try {
  execFileSync("wasm-bindgen", ["--target", "web", "--out-dir", dir, "--out-name", "wbt", wasmPath], { stdio: "inherit" });
  fs.writeFileSync(
    path.join(dir, "index.mjs"),
    `import * as wasm from "./wbt.js";
import module from "./wbt_bg.wasm";

const tests = ${JSON.stringify(tests.map((t) => t.exported))};

export default {
  async fetch(request, env) {
    const lines = [];
    // Where wasm-bindgen-test writes its report: the worker formatter (workerd's global
    // scope has \`self\`) and the Node one; each test's captured console output is kept by
    // the context and printed with its failure.
    globalThis.__wbg_test_output_writeln = (line) => lines.push(String(line));
    globalThis.__wbgtest_og_console_log = (line) => lines.push(String(line));
    globalThis.__wbgtest_og_console_error = (line) => lines.push(String(line));
    globalThis.__wbg_test_invoke = (f) => f();
    globalThis.__edgecache_test_env = env;
    for (const method of ["debug", "log", "info", "warn", "error"]) {
      const handler = wasm["__wbgtest_console_" + method];
      console[method] = (...args) => handler && handler(args);
    }
    const exports = wasm.initSync({ module });
    const cx = new wasm.WasmBindgenTestContext(false);
    cx.include_ignored(${includeIgnored});
    cx.filtered_count(${filtered});
    let ok = false;
    try {
      ok = await cx.run(tests.map((name) => exports[name]));
    } catch (e) {
      lines.push("the test context failed: " + (e && e.stack ? e.stack : String(e)));
    }
    return Response.json({ ok, lines });
  },
};
`,
  );

  // Every module wasm-bindgen wrote: the bindings, the Wasm, and the `inline_js` snippets.
  const modulesIn = (root) =>
    Object.fromEntries(
      fs
        .readdirSync(root, { recursive: true })
        .filter((name) => /\.(m?js|wasm)$/.test(name))
        .map((name) => {
          const file = path.join(root, name);
          const module = name.endsWith(".wasm") ? { type: "wasm", contents: new Uint8Array(fs.readFileSync(file)) } : { type: "esm", contents: fs.readFileSync(file, "utf8") };
          return [name.split(path.sep).join("/"), module];
        }),
    );
  const mf = new Miniflare({
    handleStructuredLogs: ({ message }) => {
      for (const line of message.split("\n")) process.stderr.write(`workerd: ${line}\n`);
    },
    enableDevRegistry: false,
    cf: false,
    workers: [
      {
        config: {
          name: "wasm-tests",
          compatibilityDate: COMPATIBILITY_DATE,
          manifest: {
            mainModule: "index.mjs",
            modulesRoot: dir,
            modules: modulesIn(dir),
          },
          env: {
            TEST_KV: { type: "kv", id: "TEST_KV" },
            TEST_R2: { type: "r2", name: "TEST_R2" },
            // A binding that is not a KV namespace, for the error-path tests.
            NOT_KV: { type: "text", value: "text" },
          },
        },
        dev: { cacheAPI: true },
      },
    ],
  });
  let result;
  try {
    const response = await mf.dispatchFetch("http://tests.invalid/");
    const text = await response.text();
    try {
      result = JSON.parse(text);
    } catch {
      result = { ok: false, lines: [`the test worker answered ${response.status}: ${text}`] };
    }
  } finally {
    await mf.dispose();
  }
  for (const line of result.lines) console.log(line);
  process.exitCode = result.ok ? 0 : 1;
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
