#!/usr/bin/env node
// The size of a bundle `wrangler deploy --dry-run --outdir DIR` wrote, measured as wrangler
// measures what it uploads (its bundle reporter, `getSize`): the modules it uploads (the Wasm
// and any other module, then the main module; not README.md or source maps) summed as they
// are, and gzipped together (zlib's default level) for the compressed figure. It prints both
// and judges them against Cloudflare's Worker size limit.
//
// The limit: 64 MiB uncompressed, on every plan. Cloudflare removed the compressed limits,
// 3 MiB (Workers Free) and 10 MiB (Workers Paid) after gzip, on 2026-09-04 (Workers changelog
// "Increased Worker size limit"; wrangler 4.164's reporter compares the uncompressed size with
// 64 MiB). The compressed figure is still printed against those former limits, for an account
// or a tool that keeps them; exceeding them is reported, not failed.
//
// Usage: node scripts/bundle-size.mjs DIR [MAIN]   (MAIN: the main module, default index.js)
// Exits 1 when the bundle is over the limit in force, 2 when DIR holds no bundle.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";

const MiB = 1024 * 1024;
export const LIMIT_UNCOMPRESSED = 64 * MiB;
export const FORMER_COMPRESSED = { free: 3 * MiB, paid: 10 * MiB };

/** The files wrangler uploads from DIR: other modules first, the main module last. */
export function uploadedFiles(dir, main = "index.js") {
  const names = fs.readdirSync(dir).filter((name) => {
    const file = path.join(dir, name);
    return fs.statSync(file).isFile() && name !== "README.md" && !name.endsWith(".map");
  });
  if (!names.includes(main)) throw new Error(`${dir} holds no ${main}: not a wrangler --outdir bundle`);
  return [...names.filter((n) => n !== main).sort(), main];
}

/** `{files: [{name, bytes}], raw, gzip}` of the bundle in DIR. */
export function measure(dir, main = "index.js") {
  const files = uploadedFiles(dir, main).map((name) => ({ name, content: fs.readFileSync(path.join(dir, name)) }));
  const all = Buffer.concat(files.map((f) => f.content));
  return {
    files: files.map((f) => ({ name: f.name, bytes: f.content.length })),
    raw: all.length,
    gzip: zlib.gzipSync(all).length,
  };
}

/** What the sizes mean: `{ok, lines}`. */
export function judge({ raw, gzip }) {
  const share = (n, of) => `${((100 * n) / of).toFixed(1)}%`;
  const ok = raw <= LIMIT_UNCOMPRESSED;
  const lines = [
    `limit in force: 64 MiB uncompressed on every plan: ${share(raw, LIMIT_UNCOMPRESSED)} used, ${ok ? "within it" : "OVER IT: Cloudflare refuses the upload"}`,
  ];
  for (const [plan, limit] of Object.entries(FORMER_COMPRESSED)) {
    const within = gzip <= limit;
    lines.push(`former compressed limit, Workers ${plan === "free" ? "Free" : "Paid"} (${limit / MiB} MiB after gzip, until 2026-09-04): ${share(gzip, limit)} used, ${within ? "within it" : "over it"}`);
  }
  return { ok, lines };
}

const kib = (n) => `${(n / 1024).toFixed(2)} KiB`;

function main() {
  const [dir, mainModule = "index.js"] = process.argv.slice(2);
  if (!dir) {
    console.error("usage: node scripts/bundle-size.mjs DIR [MAIN]");
    process.exit(2);
  }
  let sizes;
  try {
    sizes = measure(dir, mainModule);
  } catch (error) {
    console.error(`bundle-size: ${error.message}`);
    process.exit(2);
  }
  for (const file of sizes.files) console.log(`bundle: ${file.name}: ${file.bytes} bytes`);
  console.log(`bundle: ${sizes.raw} bytes (${kib(sizes.raw)}) uncompressed, ${sizes.gzip} bytes (${kib(sizes.gzip)}) gzipped`);
  const verdict = judge(sizes);
  for (const line of verdict.lines) console.log(`bundle: ${line}`);
  process.exit(verdict.ok ? 0 : 1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
