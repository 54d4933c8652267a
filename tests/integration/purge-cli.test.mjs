// Purging from the command line (scripts/purge.mjs, make purge) against a real worker on
// loopback: several targets at once, the token from the environment or .dev.vars, the API's
// answer printed, and a non-zero exit when the purge is refused or the worker unreachable.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEV_STATE, alive, devVar, findWorker, fromEdgecache, onWorker, parseArgs } from "../../scripts/purge.mjs";
import { withWorker } from "../support/fixture.mjs";
import { HOST } from "../support/worker.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const TOKEN = "purge-cli-token-0123456789";

describe("make purge / scripts/purge.mjs", () => {
  const { origin, worker } = withWorker({ bindings: { ADMIN_TOKEN: TOKEN }, config: { backends: ["memory"], routes: [{ path: "/shop/**", tags: ["shop"] }] } });
  let dir;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "edgecache-purge-cli-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Runs the CLI in `cwd` (default: a folder without .dev.vars) against the worker. */
  function purge(args, { env = {}, cwd = dir } = {}) {
    const run = spawnSync(process.execPath, [path.join(root, "scripts/purge.mjs"), ...args], {
      cwd,
      encoding: "utf8",
      env: { ...process.env, EDGECACHE_URL: worker.url.href, ADMIN_TOKEN: TOKEN, ...env },
    });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr, answer: parseJson(run.stdout) };
  }
  const parseJson = (text) => {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  };

  async function cache(target) {
    await worker.fetch(target);
    await worker.stored(target);
  }
  const isMiss = async (target) => /fwd=miss/.test((await worker.fetch(target)).cacheStatus);

  it("purges URLs, a prefix and a tag at once, and prints the API's answer", async () => {
    for (const target of ["/a", "/b", "/docs/one", "/shop/cart", "/kept"]) await cache(target);
    const run = purge(["--url", `${HOST}/a`, "--url", `${HOST}/b`, "--prefix", "/docs/", "--tag", "shop"]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.answer.ok, true);
    assert.deepEqual(
      run.answer.results.map((r) => `${r.type} ${r.target} ${r.effect}`),
      [`url ${HOST}/a purged`, `url ${HOST}/b purged`, "prefix /docs/ purged", "tag shop purged"],
    );
    assert.match(run.stderr, /\/_edgecache\/purge \(from EDGECACHE_URL\): 200/);
    for (const target of ["/a", "/b", "/docs/one", "/shop/cart"]) assert.ok(await isMiss(target), target);
    assert.match((await worker.fetch("/kept")).cacheStatus, /; hit; /, "nothing else is purged");
  });

  it("takes a URL given as a path on the worker's address", () => {
    assert.equal(onWorker("/about?x=1", "http://127.0.0.1:8787"), "http://127.0.0.1:8787/about?x=1");
    assert.equal(onWorker("https://example.com/a", "http://127.0.0.1:8787"), "https://example.com/a");
    assert.equal(onWorker("//example.com/a", "http://127.0.0.1:8787"), "//example.com/a", "not a path: refused by the API as not absolute");
    const run = purge(["--url", "/about", "--prefix", "/blog/"]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.answer.results.map((r) => [r.type, r.target]), [["url", `${worker.url.origin}/about`], ["prefix", "/blog/"]]);
  });

  it("purges everything, softly when asked", async () => {
    await cache("/soft");
    const run = purge(["--all", "--soft"]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.answer.soft, true);
    assert.deepEqual(run.answer.results, [{ type: "all", effect: "stale" }]);
    assert.match((await worker.fetch("/soft")).cacheStatus, /detail=soft-purged/);
  });

  it("reads the token from .dev.vars when ADMIN_TOKEN is not set", async () => {
    const withVars = fs.mkdtempSync(path.join(dir, "dev-"));
    fs.writeFileSync(path.join(withVars, ".dev.vars"), `OTHER=1\nADMIN_TOKEN=${TOKEN}\n`);
    await cache("/from-dev-vars");
    const run = purge(["--url", `${HOST}/from-dev-vars`], { env: { ADMIN_TOKEN: "" }, cwd: withVars });
    assert.equal(run.status, 0, run.stderr);
    assert.ok(await isMiss("/from-dev-vars"));
  });

  it("fails, printing the answer, when the API refuses the purge", () => {
    const unauthorized = purge(["--tag", "x"], { env: { ADMIN_TOKEN: "wrong" } });
    assert.equal(unauthorized.status, 1);
    assert.deepEqual(unauthorized.answer, { error: "unauthorized" });
    assert.match(unauthorized.stderr, /401/);
    const relative = purge(["--url", "not-absolute"]);
    assert.equal(relative.status, 1);
    assert.match(relative.answer.error, /urls: .*not an absolute http\(s\) URL/);
  });

  it("fails when the worker cannot be reached, has no token, or is given nothing to do", async () => {
    const port = await closedPort();
    const unreachable = purge(["--all"], { env: { EDGECACHE_URL: `http://127.0.0.1:${port}` } });
    assert.equal(unreachable.status, 1);
    assert.match(unreachable.stderr, new RegExp(`no worker on this address: nothing listens on http://127\\.0\\.0\\.1:${port} \\(from EDGECACHE_URL\\)`));
    assert.doesNotMatch(unreachable.stderr, /\b401\b|unauthori[sz]ed/i);
    const refused = purge(["--all"], { env: { EDGECACHE_URL: "http://127.0.0.1:9" } });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /could not reach http:\/\/127\.0\.0\.1:9\/_edgecache\/purge \(from EDGECACHE_URL\): bad port/);
    const tokenless = purge(["--all"], { env: { ADMIN_TOKEN: "" } });
    assert.equal(tokenless.status, 2);
    assert.match(tokenless.stderr, /no admin token/);
    const idle = purge([]);
    assert.equal(idle.status, 2);
    assert.match(idle.stderr, /nothing to purge/);
  });

  /** A folder like the project's while make dev runs: its state file, naming `pid` and `port`. */
  function devFolder({ pid, port, adminPath = "/_edgecache" }) {
    const folder = fs.mkdtempSync(path.join(dir, "make-dev-"));
    fs.mkdirSync(path.join(folder, ".wrangler"));
    // The line scripts/dev.sh writes once the worker answers.
    fs.writeFileSync(
      path.join(folder, DEV_STATE),
      `{"pid": ${pid}, "port": ${port}, "url": "http://127.0.0.1:${port}", "admin_path": "${adminPath}", "origin": "http://127.0.0.1:1"}\n`,
    );
    return folder;
  }
  /** A PID that no process has any more. */
  function deadPid() {
    const child = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
    return Number(child.stdout.trim());
  }
  /** A loopback port nothing listens on (one the kernel just gave and took back). */
  async function closedPort() {
    const server = http.createServer();
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address();
    await new Promise((resolve) => server.close(resolve));
    return port;
  }
  /**
   * Another server, answering every request 401 with a JSON error as an admin API would, in
   * a process of its own (the CLI runs synchronously here); `askedAfter(n)` lists what it was asked.
   */
  async function otherServer(t) {
    const child = spawn(process.execPath, ["-e", `
      const server = require("node:http").createServer((request, response) => {
        process.stderr.write(request.method + " " + request.url + "\\n");
        request.resume();
        response.writeHead(401, { "content-type": "application/json", "www-authenticate": "Bearer" });
        response.end('{"error":"unauthorized"}\\n');
      });
      server.listen(0, "127.0.0.1", () => console.log(server.address().port));
    `], { stdio: ["ignore", "pipe", "pipe"] });
    t.after(() => child.kill());
    let asked = "";
    child.stderr.on("data", (d) => (asked += d));
    const port = await new Promise((resolve, reject) => {
      child.stdout.once("data", (d) => resolve(Number(String(d).trim())));
      child.once("exit", () => reject(new Error(`the other server stopped: ${asked}`)));
    });
    // What it logged, once `count` lines are in (its output is read between the CLI's runs).
    const lines = () => asked.split("\n").filter(Boolean);
    const askedAfter = async (count) => {
      for (let i = 0; i < 100 && lines().length < count; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      return lines();
    };
    return { port, askedAfter };
  }
  const unset = { EDGECACHE_URL: "", PORT: "" };

  it("finds the running make dev's port in the state file it leaves", async () => {
    // make dev's PID: alive as long as the worker is, like this test's process here.
    const folder = devFolder({ pid: process.pid, port: Number(worker.url.port) });
    await cache("/found");
    const run = purge(["--url", `${HOST}/found`], { env: unset, cwd: folder });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.answer.results, [{ type: "url", target: `${HOST}/found`, effect: "purged" }]);
    assert.match(run.stderr, new RegExp(`127\\.0\\.0\\.1:${worker.url.port}/_edgecache/purge \\(from make dev \\(PID ${process.pid}`));
    assert.ok(await isMiss("/found"));
  });

  it("ignores a state file whose make dev is gone, and takes PORT= over it", async () => {
    const stale = devFolder({ pid: deadPid(), port: await closedPort() });
    const found = findWorker({}, stale);
    assert.equal(found.base, "http://127.0.0.1:8787");
    assert.match(found.from, /names no running make dev/);
    await cache("/by-port");
    const byPort = purge(["--url", `${HOST}/by-port`], { env: { EDGECACHE_URL: "", PORT: worker.url.port }, cwd: stale });
    assert.equal(byPort.status, 0, byPort.stderr);
    assert.match(byPort.stderr, /\(from PORT\)/);
    assert.ok(await isMiss("/by-port"));
  });

  it("says no worker is on the address when nothing listens on make dev's port", async () => {
    // A make dev whose worker is gone but whose state is still there (a killed wrangler).
    const folder = devFolder({ pid: process.pid, port: await closedPort() });
    const run = purge(["--all"], { env: unset, cwd: folder });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^purge: no worker on this address: nothing listens on http:\/\/127\.0\.0\.1:\d+ \(from make dev/);
    assert.doesNotMatch(run.stderr, /\b401\b|unauthori[sz]ed/i);
    assert.equal(run.stdout, "");
  });

  it("says it is not edgecache when another server answers 401, rather than blaming the token", async (t) => {
    const other = await otherServer(t);
    const viaState = purge(["--tag", "x"], { env: unset, cwd: devFolder({ pid: process.pid, port: other.port }) });
    const viaPort = purge(["--tag", "x"], { env: { EDGECACHE_URL: "", PORT: String(other.port) } });
    for (const run of [viaState, viaPort]) {
      assert.equal(run.status, 1);
      assert.match(run.stderr, /^purge: this is not edgecache: http:\/\/127\.0\.0\.1:\d+\/_edgecache\/purge \(from (make dev|PORT).*\) answered 401 Unauthorized without edgecache's Cache-Status/);
      assert.equal(run.stdout, "", "the other server's answer is not printed as the API's");
    }
    assert.deepEqual(await other.askedAfter(2), ["POST /_edgecache/purge", "POST /_edgecache/purge"]);
    // edgecache's own 401 is still reported as the API's refusal.
    const wrongToken = purge(["--tag", "x"], { env: { ADMIN_TOKEN: "wrong" } });
    assert.equal(wrongToken.status, 1);
    assert.deepEqual(wrongToken.answer, { error: "unauthorized" });
  });

  it("runs as make purge, with several targets in one variable", async () => {
    await cache("/m1");
    await cache("/m2");
    const run = spawnSync("make", ["--no-print-directory", "-s", "purge", `URL=${HOST}/m1 ${HOST}/m2`, "SOFT=1"], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, EDGECACHE_URL: worker.url.href, ADMIN_TOKEN: TOKEN, PREFIX: "/from-the-shell" },
    });
    assert.equal(run.status, 0, run.stderr);
    const answer = JSON.parse(run.stdout);
    assert.deepEqual(
      answer.results.map((r) => `${r.type} ${r.target} ${r.effect}`),
      [`url ${HOST}/m1 stale`, `url ${HOST}/m2 stale`],
      "a PREFIX exported by the shell is not a target",
    );
    await cache("/m3");
    const byPort = spawnSync("make", ["--no-print-directory", "-s", "purge", `URL=${HOST}/m3`, `PORT=${worker.url.port}`], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, EDGECACHE_URL: "", ADMIN_TOKEN: TOKEN },
    });
    assert.equal(byPort.status, 0, byPort.stderr);
    assert.match(byPort.stderr, /\(from PORT\)/);
    assert.ok(await isMiss("/m3"));
    const shellPort = spawnSync("make", ["--no-print-directory", "-s", "purge", `URL=${HOST}/m3`], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, EDGECACHE_URL: "", ADMIN_TOKEN: TOKEN, PORT: worker.url.port },
    });
    assert.doesNotMatch(shellPort.stderr, /\(from PORT\)/, "a PORT exported by the shell is not taken");
  });
});

describe("purge.mjs arguments", () => {
  it("builds the purge request from repeated options", () => {
    assert.deepEqual(parseArgs(["--url", "https://a/x", "--tag", "t", "--url", "https://a/y", "--soft"]).body, { urls: ["https://a/x", "https://a/y"], tags: ["t"], soft: true });
    assert.deepEqual(parseArgs(["--all"]).body, { all: true });
    assert.match(parseArgs(["--url"]).error, /needs a value/);
    assert.match(parseArgs(["--bogus"]).error, /unknown argument/);
    assert.match(parseArgs(["--soft"]).error, /nothing to purge/);
  });

  it("knows edgecache's answers by their Cache-Status", () => {
    assert.ok(fromEdgecache("edgecache; fwd=bypass; detail=admin"));
    assert.ok(fromEdgecache("OriginCache; hit, edgecache; fwd=bypass"));
    assert.ok(!fromEdgecache(null));
    assert.ok(!fromEdgecache("OtherCache; hit"));
    assert.ok(!fromEdgecache("edgecache-like; hit"));
  });

  it("takes the worker from EDGECACHE_URL, then PORT, then a live make dev, then 8787", () => {
    const none = fs.mkdtempSync(path.join(os.tmpdir(), "edgecache-purge-find-"));
    try {
      assert.deepEqual(findWorker({ EDGECACHE_URL: "https://example.com/", PORT: "1" }, none), { base: "https://example.com", from: "EDGECACHE_URL" });
      assert.deepEqual(findWorker({ PORT: "9000" }, none), { base: "http://127.0.0.1:9000", from: "PORT" });
      assert.equal(findWorker({}, none).base, "http://127.0.0.1:8787");
      fs.mkdirSync(path.join(none, ".wrangler"));
      fs.writeFileSync(path.join(none, DEV_STATE), `{"pid": ${process.pid}, "port": 8799, "url": "http://127.0.0.1:8799", "admin_path": "/_admin", "origin": ""}\n`);
      assert.deepEqual(findWorker({}, none), { base: "http://127.0.0.1:8799", adminPath: "/_admin", from: `make dev (PID ${process.pid}, ${DEV_STATE})` });
      fs.writeFileSync(path.join(none, DEV_STATE), "{not json");
      assert.match(findWorker({}, none).from, /names no running make dev/);
    } finally {
      fs.rmSync(none, { recursive: true, force: true });
    }
    assert.ok(alive(process.pid));
    assert.ok(!alive(0));
    assert.ok(!alive(undefined));
  });

  it("reads a variable from .dev.vars text", () => {
    assert.equal(devVar("A=1\nADMIN_TOKEN=abc\n", "ADMIN_TOKEN"), "abc");
    assert.equal(devVar('ADMIN_TOKEN="q u"\n', "ADMIN_TOKEN"), "q u");
    assert.equal(devVar("ADMIN_TOKENS=x\n", "ADMIN_TOKEN"), undefined);
  });
});
