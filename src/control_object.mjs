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

/** Counts older than a day (and one minute) are deleted as new ones arrive. */
const KEEP_MS = 86_400_000 + 60_000;
/** Hosts the object counts by name per minute; the rest count under OTHER_HOSTS (stats.rs). */
const MAX_HOSTS = 256;
const OTHER_HOSTS = "(other hosts)";

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
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS counts (minute INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
         hits INTEGER NOT NULL, stale INTEGER NOT NULL, misses INTEGER NOT NULL, bypasses INTEGER NOT NULL,
         bytes INTEGER NOT NULL, PRIMARY KEY (minute, kind, name))`,
    );
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS reasons (minute INTEGER NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
         reason TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (minute, kind, name, reason))`,
    );
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

  /** Adds an isolate's counts; with `read`, answers the sums of the last hour and day. */
  stats(body) {
    const { rows = [], read = null } = JSON.parse(body);
    this.ctx.storage.transactionSync(() => {
      for (const r of rows) {
        // Each isolate counts at most 64 hosts a minute by name; across isolates the object
        // keeps at most MAX_HOSTS, so made-up hosts cannot fill its storage.
        if (r.kind === "host" && r.name !== OTHER_HOSTS) {
          const known = this.sql.exec("SELECT 1 FROM counts WHERE minute = ? AND kind = 'host' AND name = ?", r.minute, r.name).toArray().length > 0;
          const counted = this.sql.exec("SELECT COUNT(*) AS n FROM counts WHERE minute = ? AND kind = 'host'", r.minute).one().n;
          if (!known && counted >= MAX_HOSTS) r.name = OTHER_HOSTS;
        }
        this.sql.exec(
          `INSERT INTO counts (minute, kind, name, hits, stale, misses, bypasses, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (minute, kind, name) DO UPDATE SET hits = hits + excluded.hits, stale = stale + excluded.stale,
             misses = misses + excluded.misses, bypasses = bypasses + excluded.bypasses, bytes = bytes + excluded.bytes`,
          r.minute, r.kind, r.name, r.hits, r.stale, r.misses, r.bypasses, r.bytes_from_cache,
        );
        for (const [reason, n] of Object.entries(r.reasons ?? {})) {
          this.sql.exec(
            `INSERT INTO reasons (minute, kind, name, reason, n) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (minute, kind, name, reason) DO UPDATE SET n = n + excluded.n`,
            r.minute, r.kind, r.name, reason, n,
          );
        }
      }
      if (rows.length) {
        const oldest = Date.now() - KEEP_MS;
        this.sql.exec("DELETE FROM counts WHERE minute < ?", oldest);
        this.sql.exec("DELETE FROM reasons WHERE minute < ?", oldest);
      }
    });
    if (!read) return json({});
    const sums = (from) => {
      const byName = new Map();
      const counts = this.sql
        .exec(
          `SELECT kind, name, SUM(hits) AS hits, SUM(stale) AS stale, SUM(misses) AS misses, SUM(bypasses) AS bypasses,
             SUM(bytes) AS bytes FROM counts WHERE minute >= ? GROUP BY kind, name`,
          from,
        )
        .toArray()
        .map((c) => {
          const row = { minute: from, kind: c.kind, name: c.name, hits: c.hits, stale: c.stale, misses: c.misses, bypasses: c.bypasses, bytes_from_cache: c.bytes, reasons: {} };
          byName.set(`${c.kind}\n${c.name}`, row);
          return row;
        });
      const reasons = this.sql.exec("SELECT kind, name, reason, SUM(n) AS n FROM reasons WHERE minute >= ? GROUP BY kind, name, reason", from).toArray();
      for (const r of reasons) {
        const row = byName.get(`${r.kind}\n${r.name}`);
        if (row) row.reasons[r.reason] = r.n;
      }
      return counts;
    };
    const minutes = this.sql
      .exec(
        `SELECT minute, SUM(hits) AS hits, SUM(stale) AS stale, SUM(misses) AS misses, SUM(bypasses) AS bypasses
           FROM counts WHERE kind = 'route' AND minute >= ? GROUP BY minute ORDER BY minute`,
        read.day_from,
      )
      .toArray();
    return json({ hour: sums(read.hour_from), day: sums(read.day_from), minutes });
  }
}
