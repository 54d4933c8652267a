#!/usr/bin/env node
// make purge: asks a running edgecache to purge, through its purge API, and prints the answer.
//
//   node scripts/purge.mjs [--url URL]... [--prefix PREFIX]... [--tag TAG]... [--all] [--soft]
//   make purge URL="https://example.com/a https://example.com/b" TAG=catalog [SOFT=1]
//
// The worker: $EDGECACHE_URL (e.g. https://example.com), else http://127.0.0.1:$PORT (8787,
// where make dev serves it). The admin path: $EDGECACHE_ADMIN_PATH, else `admin_path` in
// ./wrangler.toml, else /_edgecache. The token: $ADMIN_TOKEN, else the ADMIN_TOKEN line of
// ./.dev.vars (which make dev writes). Exits 0 when the purge was made, 1 when the API refused
// it or could not be reached, 2 on bad arguments.
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
  const base = (process.env.EDGECACHE_URL || `http://127.0.0.1:${process.env.PORT || 8787}`).replace(/\/+$/, "");
  const adminPath =
    process.env.EDGECACHE_ADMIN_PATH ||
    /^\s*admin_path\s*=\s*"([^"]*)"/m.exec(readIfThere("wrangler.toml"))?.[1] ||
    "/_edgecache";
  const token = process.env.ADMIN_TOKEN || devVar(readIfThere(".dev.vars"), "ADMIN_TOKEN");
  if (!token) {
    console.error("purge: no admin token: set ADMIN_TOKEN (make deploy printed it), or run make dev once (it keeps one in .dev.vars)");
    return 2;
  }
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
    console.error(`purge: could not reach ${endpoint}: ${error.cause?.message ?? error.message}`);
    return 1;
  }
  const text = await response.text();
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  console.error(`purge: ${endpoint}: ${response.status} ${response.statusText}`);
  console.log(answer === undefined ? text.trimEnd() : JSON.stringify(answer, null, 2));
  return response.ok && answer?.ok === true ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
