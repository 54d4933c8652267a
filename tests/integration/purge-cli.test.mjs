// Purging from the command line (scripts/purge.mjs, make purge) against a real worker on
// loopback: several targets at once, the token from the environment or .dev.vars, the API's
// answer printed, and a non-zero exit when the purge is refused or the worker unreachable.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { devVar, parseArgs } from "../../scripts/purge.mjs";
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
    assert.match(run.stderr, /\/_edgecache\/purge: 200/);
    for (const target of ["/a", "/b", "/docs/one", "/shop/cart"]) assert.ok(await isMiss(target), target);
    assert.match((await worker.fetch("/kept")).cacheStatus, /; hit; /, "nothing else is purged");
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
    const relative = purge(["--url", "/not-absolute"]);
    assert.equal(relative.status, 1);
    assert.match(relative.answer.error, /urls: .*not an absolute http\(s\) URL/);
  });

  it("fails when the worker cannot be reached, has no token, or is given nothing to do", () => {
    const unreachable = purge(["--all"], { env: { EDGECACHE_URL: "http://127.0.0.1:9" } });
    assert.equal(unreachable.status, 1);
    assert.match(unreachable.stderr, /could not reach http:\/\/127\.0\.0\.1:9\/_edgecache\/purge/);
    const tokenless = purge(["--all"], { env: { ADMIN_TOKEN: "" } });
    assert.equal(tokenless.status, 2);
    assert.match(tokenless.stderr, /no admin token/);
    const idle = purge([]);
    assert.equal(idle.status, 2);
    assert.match(idle.stderr, /nothing to purge/);
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

  it("reads a variable from .dev.vars text", () => {
    assert.equal(devVar("A=1\nADMIN_TOKEN=abc\n", "ADMIN_TOKEN"), "abc");
    assert.equal(devVar('ADMIN_TOKEN="q u"\n', "ADMIN_TOKEN"), "q u");
    assert.equal(devVar("ADMIN_TOKENS=x\n", "ADMIN_TOKEN"), undefined);
  });
});
