// The control plane's Durable Object was a JavaScript class until its Rust class
// (src/control/object.rs) replaced it, with the same SQLite tables. A deployment's object,
// written by the JavaScript class, must keep its registry, sequence number, purge log and
// stats after the upgrade: no migration, no purge lost.
//
// The first worker's ControlPlane is a stand-in that writes the tables exactly as the
// JavaScript class did (its CREATE TABLE and INSERT statements, copied); the second worker is
// the build, on the same storage folder.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setup } from "../support/fixture.mjs";

const TOKEN = "upgrade-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const PREFIX = "upgraded";

/** The older JavaScript class's schema and writes, for one purge of `tag` numbered `seq`. */
const OLD_CLASS_ENTRY = `
import { DurableObject } from "cloudflare:workers";
import worker from "./index.js";
export { Shield } from "./index.js";
class JavaScriptControlPlane extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS purges (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, entry TEXT NOT NULL)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS stats (kind TEXT NOT NULL, span INTEGER NOT NULL, start INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, span, start))");
  }
  setState(k, v) {
    this.sql.exec("INSERT INTO state (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, v);
  }
  async fetch(request) {
    const { registry, entries } = await request.json();
    this.ctx.storage.transactionSync(() => {
      this.setState("registry", JSON.stringify(registry));
      this.setState("seq", String(registry.seq));
      for (const entry of entries) this.sql.exec("INSERT INTO purges (seq, at, entry) VALUES (?, ?, ?)", entry.seq, entry.at, JSON.stringify(entry));
      this.setState("imported", JSON.stringify({ at: Date.now(), purges: 0 }));
    });
    return new Response("seeded");
  }
}
export { JavaScriptControlPlane as ControlPlane };
export default {
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname !== "/__test__/seed") return worker.fetch(request, env, ctx);
    const stub = env.EDGECACHE_CONTROL.get(env.EDGECACHE_CONTROL.idFromName("edgecache:${PREFIX}"));
    return stub.fetch("https://control.edgecache.internal/seed", { method: "POST", body: await request.text() });
  },
};
`;

describe("an object written by the JavaScript control plane", () => {
  it("keeps its registry, sequence number and purge log under the Rust class, and numbers the next purge after them", async () => {
    const storage = fs.mkdtempSync(path.join(os.tmpdir(), "edgecache-upgrade-"));
    const config = { key_prefix: PREFIX, backends: ["memory"] };
    try {
      // Two purges the older class recorded: a tag purge timed an hour ahead (so that it
      // applies to entries stored now), then a URL purge.
      const ahead = Date.now() + 3_600_000;
      const entries = [
        { seq: 1, at: ahead, token: "ops", urls: [], prefixes: [], tags: ["retired"], all: false, soft: false },
        { seq: 2, at: ahead, token: "ci", urls: ["http://edge.test/gone"], prefixes: [], tags: [], all: false, soft: true },
      ];
      const registry = {
        v: 1,
        seq: 2,
        floor: 0,
        soft_floor: 0,
        records: [
          { target: { type: "tag", value: "retired" }, at: ahead, soft: false },
          { target: { type: "url", value: "http://edge.test/gone" }, at: ahead, soft: true },
        ],
      };
      const old = await setup({ origin: null, persist: storage, entry: OLD_CLASS_ENTRY, config });
      try {
        const seeded = await old.worker.fetch("/__test__/seed", { method: "POST", body: JSON.stringify({ registry, entries }) });
        assert.equal(seeded.status, 200, seeded.body);
      } finally {
        await old.dispose();
      }

      const { origin, worker, dispose } = await setup({ persist: storage, bindings: { ADMIN_TOKEN: TOKEN }, config });
      origin.on("/retired", (record, n) => ({ headers: { "cache-control": "max-age=600", "cache-tag": "retired" }, body: `retired #${n}` }));
      try {
        const logged = await worker.fetch("/_edgecache/purges", { headers: auth });
        assert.equal(logged.status, 200, logged.body);
        assert.deepEqual(
          JSON.parse(logged.body).purges.map((e) => [e.seq, e.token, e.soft]),
          [[2, "ci", true], [1, "ops", false]],
          "the purge log the JavaScript class wrote, newest first",
        );

        await worker.fetchStored("/retired");
        assert.equal((await worker.fetch("/retired")).body, "retired #2", "its registry still applies: the tag purge is in force");

        const purged = await worker.fetch("/_edgecache/purge", { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ tags: ["later"] }) });
        assert.equal(purged.status, 200, purged.body);
        const after = JSON.parse((await worker.fetch("/_edgecache/purges", { headers: auth })).body).purges;
        assert.deepEqual(after.map((e) => e.seq), [3, 2, 1], "the next purge takes the next sequence number; none is lost");
        assert.deepEqual(after[0].tags, ["later"]);
        assert.equal(origin.count("/retired"), 2, "nothing else reached the origin");
      } finally {
        await dispose();
      }
    } finally {
      fs.rmSync(storage, { recursive: true, force: true });
    }
  });
});
