#!/usr/bin/env node
// Runs the public HTTP cache test suite (https://github.com/http-tests/cache-tests) against the
// built worker, and prints its results by kind (required, optimal, check) and every test that
// did not pass. Not part of `make test`: the suite is not in this repository (the tests have no
// internet). With a checkout of it:
//
//   git clone https://github.com/http-tests/cache-tests /tmp/cache-tests
//   make build && node scripts/cache-tests.mjs /tmp/cache-tests [--default-ttl 600] [--id TEST]
//
// The suite's own origin server (test-engine/server) runs on a free loopback port, the worker
// (build/, on workerd through Miniflare as the integration tests run it) in front of it, and
// the suite's command-line client (test-engine/cli.mjs) sends every test through the worker.
// The worker's policy is the top level of wrangler.toml (`backends = ["memory", "cache"]`) with
// `default_ttl = 0` unless told otherwise (the suite checks that a response stating no
// freshness is not reused, `freshness-none`, and skips the tests that depend on it when it is),
// and `forward_headers` naming the suite's bookkeeping fields (`Req-Num`, `Test-ID`,
// `Test-Name`): its server tells requests apart by them, and edgecache sends no client field
// to the origin that it is not told to. The results are counted as the suite's site counts
// them (test-engine/lib/results.mjs, dependencies honoured). Its interim-response tests import
// `undici`; when the checkout has no node_modules/, this project's is linked there. `--id TEST`
// runs that test alone and prints what the suite's client prints of it: every request and
// response, as its server saw them.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { startWorker } from "../tests/support/worker.mjs";

const args = process.argv.slice(2);
const dir = args.find((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
const ttlAt = args.indexOf("--default-ttl");
const defaultTtl = ttlAt >= 0 ? Number(args[ttlAt + 1]) : 0;
const idAt = args.indexOf("--id");
const testId = idAt >= 0 ? args[idAt + 1] : "";
if (!dir || !fs.existsSync(path.join(dir, "test-engine/cli.mjs"))) {
  console.error("usage: node scripts/cache-tests.mjs <checkout of http-tests/cache-tests> [--default-ttl N]");
  process.exit(2);
}
const suite = path.resolve(dir);
if (!fs.existsSync(path.join(suite, "node_modules"))) {
  fs.symlinkSync(path.resolve("node_modules"), path.join(suite, "node_modules"), "dir");
  console.error(`cache-tests: linked ${path.resolve("node_modules")} as ${suite}/node_modules (for undici)`);
}

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const port = await freePort();
const origin = spawn(process.execPath, [path.join(suite, "test-engine/server/server.mjs")], {
  cwd: suite,
  env: { ...process.env, npm_config_protocol: "http", npm_config_port: String(port), npm_config_pidfile: path.join(os.tmpdir(), `cache-tests-${port}.pid`) },
  stdio: ["ignore", "pipe", "inherit"],
});
await new Promise((resolve, reject) => {
  origin.stdout.on("data", (d) => String(d).includes("Listening") && resolve());
  origin.on("exit", (code) => reject(new Error(`the suite's server exited (${code})`)));
});

const config = {
  default_ttl: defaultTtl,
  backends: ["memory", "cache"],
  forward_headers: ["req-num", "test-id", "test-name"],
};
const worker = await startWorker({ origin: { url: `http://127.0.0.1:${port}` }, config });
let output = "";
try {
  const client = spawn(process.execPath, ["--no-warnings", path.join(suite, "test-engine/cli.mjs")], {
    cwd: suite,
    env: { ...process.env, npm_config_base: String(worker.url).replace(/\/$/, ""), npm_config_id: testId, npm_package_config_id: testId },
    stdio: ["ignore", "pipe", "inherit"],
  });
  client.stdout.on("data", (d) => (output += d));
  const code = await new Promise((resolve) => client.on("exit", resolve));
  if (code !== 0) throw new Error(`the suite's client exited with ${code}`);
} finally {
  await worker.dispose();
  origin.kill("SIGTERM");
}

if (testId) {
  console.log(output);
  // The worker's own log lines for the test, to see what it decided.
  console.log(worker.logs.join("\n"));
  process.exit(0);
}
const results = JSON.parse(output);
const { default: tests } = await import(pathToFileURL(path.join(suite, "tests/index.mjs")));
const { determineTestResult, resultTypes } = await import(pathToFileURL(path.join(suite, "test-engine/lib/results.mjs")));
const named = (type) => Object.keys(resultTypes).find((k) => resultTypes[k] === type);
const counts = {};
const notPassed = [];
for (const group of tests) {
  for (const test of group.tests) {
    const kind = test.kind ?? "required";
    const result = named(determineTestResult(tests, test.id, results));
    counts[kind] ??= {};
    counts[kind][result] = (counts[kind][result] ?? 0) + 1;
    if (!["pass", "yes", "untested"].includes(result)) {
      const detail = results[test.id] === true ? "passes itself" : JSON.stringify(results[test.id]);
      const dependsOn = result === "dependency_fail" ? ` (depends on ${test.depends_on.join(", ")})` : "";
      notPassed.push(`${kind} ${result}: ${group.id}/${test.id}${dependsOn}: ${detail}`);
    }
  }
}
console.log(`cache-tests: edgecache (${JSON.stringify(config)}), ${Object.keys(results).length} tests run`);
for (const [kind, byResult] of Object.entries(counts)) {
  const total = Object.values(byResult).reduce((a, b) => a + b, 0);
  console.log(`${kind}: ${total}: ${Object.entries(byResult).map(([r, n]) => `${n} ${r}`).join(", ")}`);
}
for (const line of notPassed.sort()) console.log(`  ${line}`);
