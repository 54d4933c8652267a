// scripts/deploy.sh (make deploy) against a stand-in for wrangler: no Cloudflare account and
// no network here, so a real deploy cannot run. The stand-in is a small script named
// `wrangler`, put first on PATH, that records every call's arguments (and the secrets file it
// is given) and answers as wrangler does; each test runs the deploy script on a copy of
// wrangler.toml. What is tested: finding the placeholder, creating or reusing the KV
// namespace, rewriting the copy, the admin token made once, and the order of the calls.
// The bundle size report (scripts/bundle-size.mjs) is tested on its own numbers; its run on
// the real bundle is `make deploy DRY_RUN=1`, in `make test`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FORMER_COMPRESSED, LIMIT_UNCOMPRESSED, judge, measure } from "../../scripts/bundle-size.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const PLACEHOLDER = "00000000000000000000000000000000";
const CREATED = "0123456789abcdef0123456789abcdef";
const EXISTING = "fedcba9876543210fedcba9876543210";

/**
 * A stand-in for wrangler: records `argv` (and the content of a --secrets-file) as one JSON
 * line per call in $STAND_IN_LOG, and answers from $STAND_IN (JSON): `namespaces` for
 * `kv namespace list`, `secrets` for `secret list` (or `"missing"`: the worker does not exist
 * yet), and `fail` naming a command that fails.
 */
const WRANGLER_STAND_IN = `#!/usr/bin/env node
// A stand-in for wrangler in tests/deploy: it records its arguments and never touches the network.
const fs = require("node:fs");
const args = process.argv.slice(2);
const plan = JSON.parse(process.env.STAND_IN || "{}");
const record = { args };
const at = args.indexOf("--secrets-file");
if (at >= 0) record.secrets = fs.readFileSync(args[at + 1], "utf8");
fs.appendFileSync(process.env.STAND_IN_LOG, JSON.stringify(record) + "\\n");
const valued = new Set(["--config", "--outdir", "--secrets-file"]);
const words = args.filter((a, i) => !a.startsWith("-") && !valued.has(args[i - 1]));
const command = words.slice(0, 3).join(" ");
if (plan.fail && command.startsWith(plan.fail)) {
  console.error("✘ [ERROR] A request to the Cloudflare API failed.");
  process.exit(1);
}
if (command === "kv namespace list") {
  console.log(JSON.stringify(plan.namespaces ?? [], null, 2));
} else if (command.startsWith("kv namespace create")) {
  console.log('🌀 Creating namespace with title "' + words[3] + '"');
  console.log("✨ Success!");
  console.log("To access your new KV Namespace in your Worker, add the following snippet to your configuration file:");
  console.log('[[kv_namespaces]]\\nbinding = "' + words[3].replace(/-/g, "_") + '"\\nid = "${CREATED}"');
} else if (command === "secret list") {
  if (plan.secrets === "missing") {
    console.error('✘ [ERROR] Worker "edgecache" not found.\\n\\nIf this is a new Worker, run \`wrangler deploy\` first to create it.');
    process.exit(1);
  }
  console.log(JSON.stringify(plan.secrets ?? [], null, "  "));
} else if (command === "deploy" && args.includes("--dry-run")) {
  const dir = args[args.indexOf("--outdir") + 1];
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(dir + "/index.js", "export default {};\\n".repeat(100));
  fs.writeFileSync(dir + "/abc-index_bg.wasm", Buffer.alloc(4096, 7));
  fs.writeFileSync(dir + "/index.js.map", "{}");
  fs.writeFileSync(dir + "/README.md", "not uploaded");
}
`;

describe("make deploy (scripts/deploy.sh) against a stand-in for wrangler", () => {
  let dir, bin, log;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "edgecache-deploy-"));
    bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, "wrangler"), WRANGLER_STAND_IN, { mode: 0o755 });
    log = path.join(dir, "calls.jsonl");
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Runs the deploy script on a fresh copy of wrangler.toml (edited by `edit`). */
  function deploy({ plan = {}, env = {}, edit = (t) => t } = {}) {
    const config = path.join(dir, `wrangler-${Math.random().toString(16).slice(2)}.toml`);
    fs.writeFileSync(config, edit(fs.readFileSync(path.join(root, "wrangler.toml"), "utf8")));
    fs.writeFileSync(log, "");
    const run = spawnSync("bash", [path.join(root, "scripts/deploy.sh")], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}`, CONFIG: config, STAND_IN: JSON.stringify(plan), STAND_IN_LOG: log, TMPDIR: dir, ...env },
    });
    const calls = fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    return { ...run, calls, config: fs.readFileSync(config, "utf8"), configPath: config };
  }

  const commands = (calls) => calls.map((c) => c.args.filter((a) => !a.startsWith("/") && !a.includes(path.sep)).join(" "));
  const kvIds = (toml) => [...toml.matchAll(/^id = "([0-9a-f]{32})"/gm)].map((m) => m[1]);

  it("creates the KV namespace, writes its id into the top-level block only, and deploys with a new admin token", () => {
    const run = deploy({ plan: { secrets: "missing" } });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(commands(run.calls), [
      "kv namespace list --config",
      "kv namespace create edgecache-EDGECACHE_KV --env= --config",
      "secret list --env= --config",
      "deploy --env= --config --secrets-file",
    ]);
    assert.ok(run.calls.every((c) => c.args[c.args.indexOf("--config") + 1] === run.configPath), "every call reads the copy");
    assert.deepEqual(kvIds(run.config), [CREATED, PLACEHOLDER], "[env.demo]'s placeholder is left alone");
    const token = JSON.parse(run.calls[3].secrets).ADMIN_TOKEN;
    assert.match(token, /^[0-9a-f]{64}$/);
    assert.equal(run.stdout.split(token).length - 1, 1, "the token is printed once");
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith("edgecache-secrets")), [], "the secrets file is removed");
    const original = fs.readFileSync(path.join(root, "wrangler.toml"), "utf8");
    assert.equal(run.config, original.replace(`id = "${PLACEHOLDER}"`, `id = "${CREATED}"`), "nothing else changes");
  });

  it("reuses a namespace of that title and leaves an existing admin token alone", () => {
    const run = deploy({ plan: { namespaces: [{ id: "ffff", title: "other" }, { id: EXISTING, title: "edgecache-EDGECACHE_KV" }], secrets: [{ name: "ADMIN_TOKEN", type: "secret_text" }] } });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(commands(run.calls), ["kv namespace list --config", "secret list --env= --config", "deploy --env= --config"]);
    assert.deepEqual(kvIds(run.config), [EXISTING, PLACEHOLDER]);
    assert.doesNotMatch(run.stdout, /ADMIN_TOKEN was not set/);
  });

  it("touches neither the namespace nor the file once the id is set", () => {
    const edit = (t) => t.replace(`id = "${PLACEHOLDER}"`, `id = "${EXISTING}"`);
    const run = deploy({ plan: { secrets: [{ name: "ADMIN_TOKENS", type: "secret_text" }] }, edit });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(commands(run.calls), ["secret list --env= --config", "deploy --env= --config"]);
    assert.equal(run.config, edit(fs.readFileSync(path.join(root, "wrangler.toml"), "utf8")));
  });

  it("finds the binding's id when it comes before the binding, and says when there are migrations", () => {
    const edit = (t) =>
      t.replace(`binding = "EDGECACHE_KV"\nid = "${PLACEHOLDER}"`, `id = "${PLACEHOLDER}"  # placeholder\nbinding = "EDGECACHE_KV"`) +
      '\n[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["Control"]\n';
    const run = deploy({ plan: { secrets: "missing" }, edit });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.config, new RegExp(`^id = "${CREATED}"  # placeholder\\nbinding = "EDGECACHE_KV"`, "m"));
    assert.match(run.stdout, /applies the Durable Object migrations/);
  });

  it("stops, with the file unchanged and nothing deployed, when wrangler fails", () => {
    for (const fail of ["kv namespace create", "secret list"]) {
      const run = deploy({ plan: { fail } });
      assert.notEqual(run.status, 0, fail);
      assert.ok(!commands(run.calls).some((c) => c.startsWith("deploy")), fail);
      if (fail === "kv namespace create") assert.deepEqual(kvIds(run.config), [PLACEHOLDER, PLACEHOLDER]);
    }
    const failed = deploy({ plan: { secrets: "missing", fail: "deploy" } });
    assert.notEqual(failed.status, 0);
    assert.doesNotMatch(failed.stdout, /ADMIN_TOKEN was not set/, "no token is shown for a deploy that failed");
  });

  it("refuses a file without a top-level EDGECACHE_KV block", () => {
    const run = deploy({ edit: (t) => t.replace("[[kv_namespaces]]\nbinding", "[[env.other.kv_namespaces]]\nbinding") });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /no top-level \[\[kv_namespaces\]\] block with binding = "EDGECACHE_KV"/);
    assert.deepEqual(run.calls, []);
  });

  it("with DRY_RUN only asks wrangler for the bundle, and reports its size", () => {
    const outdir = path.join(dir, "out");
    const run = deploy({ env: { DRY_RUN: "1", OUTDIR: outdir } });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(commands(run.calls), ["deploy --dry-run --outdir --env= --config"]);
    assert.match(run.stdout, /still the placeholder/);
    assert.match(run.stdout, /bundle: abc-index_bg\.wasm: 4096 bytes/);
    assert.match(run.stdout, /bundle: 5996 bytes \(5\.86 KiB\) uncompressed/, "index.js and the Wasm, not the map or README");
    assert.match(run.stdout, /limit in force: 64 MiB uncompressed on every plan: 0\.0% used, within it/);
  });
});

describe("the bundle size report (scripts/bundle-size.mjs)", () => {
  it("counts what wrangler uploads: the modules, then the main module, and gzips them together", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "edgecache-bundle-"));
    try {
      fs.writeFileSync(path.join(dir, "index.js"), "a".repeat(1000));
      fs.writeFileSync(path.join(dir, "x-index_bg.wasm"), Buffer.alloc(2000));
      fs.writeFileSync(path.join(dir, "index.js.map"), "m".repeat(5000));
      fs.writeFileSync(path.join(dir, "README.md"), "r");
      const sizes = measure(dir);
      assert.deepEqual(sizes.files, [{ name: "x-index_bg.wasm", bytes: 2000 }, { name: "index.js", bytes: 1000 }]);
      assert.equal(sizes.raw, 3000);
      assert.ok(sizes.gzip > 0 && sizes.gzip < 200, `${sizes.gzip}`);
      assert.throws(() => measure(dir, "worker.js"), /holds no worker\.js/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails over the uncompressed limit in force and reports the former compressed ones", () => {
    assert.equal(judge({ raw: LIMIT_UNCOMPRESSED, gzip: 1 }).ok, true);
    const over = judge({ raw: LIMIT_UNCOMPRESSED + 1, gzip: 1 });
    assert.equal(over.ok, false);
    assert.match(over.lines[0], /OVER IT/);
    const big = judge({ raw: 1000, gzip: FORMER_COMPRESSED.free + 1 });
    assert.equal(big.ok, true, "the compressed limits no longer apply");
    assert.match(big.lines[1], /Workers Free \(3 MiB after gzip, until 2026-09-04\): 100\.0% used, over it/);
    assert.match(big.lines[2], /Workers Paid \(10 MiB after gzip, until 2026-09-04\): 30\.0% used, within it/);
  });
});
