// The control plane: a Durable Object with SQLite storage, one instance per deployment (the
// worker names it by `key_prefix`). It is the single writer of purges, keeps the purge log
// and the stats, and takes over an older deployment's KV registry and purge log once.
//
// The rules are Rust's (src/control.rs, called through the Wasm exports of
// src/control/object.rs); this class stores what they return and reads it back. Each purge is
// one synchronous SQLite transaction: registry, sequence number and log entry are written
// together or not at all.
import { DurableObject } from "cloudflare:workers";
import * as wasm from "./index.js";

// Looked up by name: a worker built from edgecache as a library has no such exports, and
// never binds this class.
const rule = (name, ...args) => wasm[name](...args);


const json = (body, status = 200) =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });

export class ControlPlane extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v TEXT NOT NULL)`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS purges (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, entry TEXT NOT NULL)`);
    // Stats as bounded sketches (stats_store.rs); the per-name rows kept before are dropped.
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS stats (kind TEXT NOT NULL, span INTEGER NOT NULL, start INTEGER NOT NULL,
         body TEXT NOT NULL, PRIMARY KEY (kind, span, start))`,
    );
    // The last reason each key was not stored (why.rs): by key id (never a URL), newest per
    // key, why::KEPT keys and a day at most.
    this.sql.exec(`CREATE TABLE IF NOT EXISTS why (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL)`);
    this.sql.exec(`CREATE INDEX IF NOT EXISTS why_at ON why (at)`);
    this.sql.exec("DROP TABLE IF EXISTS counts");
    this.sql.exec("DROP TABLE IF EXISTS reasons");
  }

  state(k) {
    return this.sql.exec("SELECT v FROM state WHERE k = ?", k).toArray()[0]?.v;
  }

  setState(k, v) {
    this.sql.exec("INSERT INTO state (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, v);
  }

  async fetch(request) {
    const url = new URL(request.url);
    try {
      if (this.state("imported") === undefined) {
        const prefix = request.headers.get("x-edgecache-prefix") ?? "";
        await this.ctx.blockConcurrencyWhile(() => this.importOnce(prefix));
      }
      switch (`${request.method} ${url.pathname}`) {
        case "POST /purge":
          return this.purge(await request.text());
        case "GET /registry":
          return this.registry(url.searchParams.get("known"));
        case "GET /purges":
          return this.log(Number(url.searchParams.get("before")), Number(url.searchParams.get("limit")));
        case "POST /stats":
          return this.stats(await request.text());
        default:
          return json({ error: `no route ${request.method} ${url.pathname}` }, 404);
      }
    } catch (error) {
      return json({ error: String(error?.message ?? error) }, 500);
    }
  }

  /**
   * An older deployment kept its registry and purge log in KV: they become this object's
   * first state, once. A KV read that fails leaves the import for the next request.
   */
  async importOnce(prefix) {
    if (this.state("imported") !== undefined) return;
    const kv = this.env.EDGECACHE_KV;
    let registry = null;
    let log = null;
    if (kv && typeof kv.get === "function") {
      [registry, log] = await Promise.all([kv.get(`${prefix}:__edgecache:registry`), kv.get(`${prefix}:__edgecache:purges`)]);
    }
    const imported = JSON.parse(rule("controlImportLegacy", registry ?? undefined, log ?? undefined));
    if (imported.error) throw new Error(imported.error);
    this.ctx.storage.transactionSync(() => {
      if (this.state("registry") === undefined) {
        this.setState("registry", JSON.stringify(imported.registry));
        this.setState("seq", String(imported.registry.seq));
        for (const entry of imported.entries) {
          this.sql.exec("INSERT INTO purges (seq, at, entry) VALUES (?, ?, ?)", entry.seq, entry.at, JSON.stringify(entry));
        }
      }
      this.setState("imported", JSON.stringify({ at: Date.now(), purges: imported.entries.length }));
    });
  }

  /** Records one purge: the next sequence number, the registry and the log entry, at once. */
  purge(command) {
    let answer;
    this.ctx.storage.transactionSync(() => {
      const applied = JSON.parse(rule("controlApplyPurge", this.state("registry"), command, Date.now()));
      if (applied.error) throw new Error(applied.error);
      const registry = JSON.stringify(applied.registry);
      this.setState("registry", registry);
      this.setState("seq", String(applied.registry.seq));
      this.sql.exec("INSERT INTO purges (seq, at, entry) VALUES (?, ?, ?)", applied.entry.seq, applied.entry.at, JSON.stringify(applied.entry));
      if (applied.prune_through > 0) this.sql.exec("DELETE FROM purges WHERE seq <= ?", applied.prune_through);
      answer = `{"registry":${registry},"entry":${JSON.stringify(applied.entry)}}`;
    });
    return json(answer);
  }

  /** The sequence number alone when the asker knows it (`known`), else the registry too. */
  registry(known) {
    const seq = Number(this.state("seq") ?? 0);
    if (known !== null && Number(known) === seq) return json({ seq });
    return json(`{"seq":${seq},"registry":${this.state("registry") ?? '{"v":1}'}}`);
  }

  /** A page of the purge log, newest first. */
  log(before, limit) {
    const rows = this.sql.exec("SELECT entry FROM purges WHERE seq < ? ORDER BY seq DESC LIMIT ?", before, limit).toArray();
    return json(`{"purges":[${rows.map((r) => r.entry).join(",")}]}`);
  }

  /**
   * Adds an isolate's counts; with `read`, answers the sums of the last hour and day. What is
   * kept and read is Rust's (core/src/control/stats_store.rs): exact totals per minute, and
   * per dimension the names with the most requests, a bounded sketch per minute for the last
   * hour and per hour for the day. All of one report in one transaction.
   */
  stats(body) {
    const table = {
      scan: (kind, span, from, to) =>
        this.sql
          .exec("SELECT start, body FROM stats WHERE kind = ? AND span = ? AND start >= ? AND start < ? ORDER BY start", kind, span, from, to)
          .toArray()
          .map((r) => [r.start, r.body]),
      put: (kind, span, start, body) =>
        this.sql.exec(
          "INSERT INTO stats (kind, span, start, body) VALUES (?, ?, ?, ?) ON CONFLICT (kind, span, start) DO UPDATE SET body = excluded.body",
          kind, span, start, body,
        ),
      remove: (kind, span, from, to) => this.sql.exec("DELETE FROM stats WHERE kind = ? AND span = ? AND start >= ? AND start < ?", kind, span, from, to),
      remember: (id, at, body) =>
        this.sql.exec(
          "INSERT INTO why (id, at, body) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at, body = excluded.body WHERE excluded.at >= why.at",
          id, at, body,
        ),
      recall: (id) => this.sql.exec("SELECT body FROM why WHERE id = ?", id).toArray()[0]?.body,
      forgetNotes: (keep, before) => {
        this.sql.exec("DELETE FROM why WHERE at < ?", before);
        const over = this.sql.exec("SELECT COUNT(*) AS n FROM why").one().n - keep;
        if (over > 0) this.sql.exec("DELETE FROM why WHERE id IN (SELECT id FROM why ORDER BY at, id LIMIT ?)", over);
      },
    };
    let answer;
    this.ctx.storage.transactionSync(() => {
      answer = rule("controlStats", body, Date.now(), table);
      if (answer.startsWith('{"error"')) throw new Error(JSON.parse(answer).error);
    });
    return json(answer);
  }
}
