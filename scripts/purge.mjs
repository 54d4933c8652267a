#!/usr/bin/env node
// make purge: asks a running edgecache to purge, through its purge API, and prints the answer.
//
//   node scripts/purge.mjs [--url URL]... [--prefix PREFIX]... [--tag TAG]... [--all] [--soft]
//   make purge URL="https://example.com/a https://example.com/b" TAG=catalog [SOFT=1]
//
// A URL given as a path (/about) is taken on the worker's address.
// The worker: $EDGECACHE_URL (e.g. https://example.com), else http://127.0.0.1:$PORT, else the
// running make dev's (its port in ./.wrangler/edgecache-dev.json, which scripts/dev.sh writes
// once the worker answers and removes on exit; used only while that PID is alive), else
// http://127.0.0.1:8787. The admin path: $EDGECACHE_ADMIN_PATH, else the state file's, else
// `admin_path` in ./wrangler.toml, else /_edgecache. The token: $ADMIN_TOKEN, else the
// ADMIN_TOKEN line of ./.dev.vars (which make dev writes). An answer without edgecache's
// Cache-Status is another server's, and said so. Exits 0 when the purge was made, 1 when the
// API refused it or could not be reached, 2 on bad arguments.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const USAGE = "usage: node scripts/purge.mjs [--url URL]... [--prefix PREFIX]... [--tag TAG]... [--all] [--soft]\n" +
  "       (make purge URL=… PREFIX=… TAG=… ALL=1 SOFT=1; several targets, space-separated, at once)";

/** The purge request the arguments ask for, or an error message. */
export function parseArgs(argv) {
  const body = { urls: [], prefixes: [], tags: [] };
  const lists = { "--url": "urls", "--prefix": "prefixes", "--tag": "tags" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg in lists) {
      const value = argv[++i];
      if (value === undefined || value === "") return { error: `${arg} needs a value` };
      body[lists[arg]].push(value);
    } else if (arg === "--all") {
      body.all = true;
    } else if (arg === "--soft") {
      body.soft = true;
    } else {
      return { error: `unknown argument ${JSON.stringify(arg)}` };
    }
  }
  for (const name of ["urls", "prefixes", "tags"]) if (body[name].length === 0) delete body[name];
  if (!body.urls && !body.prefixes && !body.tags && !body.all) return { error: "nothing to purge" };
  return { body };
}

/** `NAME=value` from a .dev.vars-style file's text (the last line for NAME wins). */
export function devVar(text, name) {
  let value;
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (match && match[1] === name) value = match[2].replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
  }
  return value;
}

/** Where make dev's state file is, relative to the project folder. */
export const DEV_STATE = ".wrangler/edgecache-dev.json";

/** Whether a process with this PID is running (EPERM: it is, as another user's). */
export function alive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

/**
 * The worker to ask: `{ base, adminPath?, from }`, `from` saying where the address came from.
 * `env` is the environment, `cwd` the project folder.
 */
export function findWorker(env, cwd) {
  if (env.EDGECACHE_URL) return { base: env.EDGECACHE_URL.replace(/\/+$/, ""), from: "EDGECACHE_URL" };
  if (env.PORT) return { base: `http://127.0.0.1:${env.PORT}`, from: "PORT" };
  const text = readIfThere(path.join(cwd, DEV_STATE));
  if (text) {
    let state;
    try {
      state = JSON.parse(text);
    } catch {
      state = undefined;
    }
    if (state && Number.isInteger(state.port) && alive(state.pid)) {
      return {
        base: `http://127.0.0.1:${state.port}`,
        adminPath: typeof state.admin_path === "string" ? state.admin_path : undefined,
        from: `make dev (PID ${state.pid}, ${DEV_STATE})`,
      };
    }
    return { base: "http://127.0.0.1:8787", from: `the default: ${DEV_STATE} names no running make dev` };
  }
  return { base: "http://127.0.0.1:8787", from: "the default: no make dev running here" };
}

/** `value`, or, when it is a path (`/about`), that path on the worker's address `base`. */
export function onWorker(value, base) {
  return value.startsWith("/") && !value.startsWith("//") ? new URL(value, `${base}/`).href : value;
}

/** Whether an answer's Cache-Status names edgecache (every answer of its admin API does). */
export function fromEdgecache(cacheStatus) {
  return (cacheStatus ?? "").split(",").some((member) => member.split(";")[0].trim() === "edgecache");
}

function readIfThere(file) {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

async function main() {
  const parsed = parseArgs(process.argv.slice(2));
  if (parsed.error) {
    console.error(`purge: ${parsed.error}\n${USAGE}`);
    return 2;
  }
  const worker = findWorker(process.env, process.cwd());
  const base = worker.base;
  const adminPath =
    process.env.EDGECACHE_ADMIN_PATH ||
    worker.adminPath ||
    /^\s*admin_path\s*=\s*"([^"]*)"/m.exec(readIfThere("wrangler.toml"))?.[1] ||
    "/_edgecache";
  const token = process.env.ADMIN_TOKEN || devVar(readIfThere(".dev.vars"), "ADMIN_TOKEN");
  if (!token) {
    console.error("purge: no admin token: set ADMIN_TOKEN (make deploy printed it), or run make dev once (it keeps one in .dev.vars)");
    return 2;
  }
  // A URL given as a path (`make purge URL=/about`) is one on the worker's own address.
  if (parsed.body.urls) parsed.body.urls = parsed.body.urls.map((value) => onWorker(value, base));
  const endpoint = `${base}${adminPath}/purge`;
  let response;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(parsed.body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const cause = error.cause?.code ?? error.cause?.message ?? error.message;
    if (cause === "ECONNREFUSED") {
      console.error(`purge: no worker on this address: nothing listens on ${base} (from ${worker.from}).\n` +
        "       Start make dev, or say where the worker is: EDGECACHE_URL=https://… or make purge PORT=…");
    } else {
      console.error(`purge: could not reach ${endpoint} (from ${worker.from}): ${error.cause?.message ?? error.message}`);
    }
    return 1;
  }
  if (!fromEdgecache(response.headers.get("cache-status"))) {
    await response.body?.cancel();
    console.error(`purge: this is not edgecache: ${endpoint} (from ${worker.from}) answered ` +
      `${response.status} ${response.statusText} without edgecache's Cache-Status.\n` +
      "       Another server has this address; say where the worker is: EDGECACHE_URL=https://… or make purge PORT=…");
    return 1;
  }
  const text = await response.text();
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  console.error(`purge: ${endpoint} (from ${worker.from}): ${response.status} ${response.statusText}`);
  console.log(answer === undefined ? text.trimEnd() : JSON.stringify(answer, null, 2));
  return response.ok && answer?.ok === true ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
