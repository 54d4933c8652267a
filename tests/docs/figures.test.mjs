// The figures the documentation states about the build are the build's. Each is marked where
// it stands, `about 1,101 KB <!-- figure: wasm-raw-kb -->` (the number just before the comment),
// and measured here from the built tree, as the command the documentation names measures it:
//   wasm-raw-kb, wasm-gzip-kb  build/index_bg.wasm, and its `gzip -9` (as make build prints them)
//   bundle-*                 the bundle of `make deploy DRY_RUN=1` (scripts/bundle-size.mjs):
//                            uploaded bytes, gzipped, the JavaScript module, the shares of the
//                            limit in force and the two former ones (as the report rounds them)
//   dashboard-*              the www/ files src/admin/dashboard.rs builds into the worker: how
//                            many, their bytes, each gzipped on its own
//   fuzz-targets             the targets make fuzz runs (FUZZ_TARGETS in the Makefile)
// Sizes in KB are of 1,000 bytes.
// A figure must equal the measure exactly, unless the text says it is approximate ("about 57
// KB"): then it may be 5 % off. A mark with an unknown name fails, and so does a known figure
// marked nowhere. The bundle is read from build/deploy-dry-run when that holds this build's
// Wasm and is newer than its JavaScript (make test runs the dry run just before); otherwise
// the test runs `make deploy DRY_RUN=1` into a temporary folder.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FORMER_COMPRESSED, LIMIT_UNCOMPRESSED, measure } from "../../scripts/bundle-size.mjs";
import { documents, figures, read, root } from "./markdown.mjs";

const TOLERANCE = 0.05;
const build = (file) => path.join(root, "build", file);
const gzip9 = (file) => {
  const out = spawnSync("gzip", ["-9", "-c", file], { maxBuffer: 256 << 20 });
  assert.equal(out.status, 0, String(out.stderr));
  return out.stdout.length;
};

let bundle;
let scratch;
/** The dry run's measure, of this build. */
function dryRun() {
  if (bundle) return bundle;
  const dir = build("deploy-dry-run");
  const wasm = fs.readFileSync(build("index_bg.wasm"));
  const fresh =
    fs.existsSync(path.join(dir, "index.js")) &&
    fs.statSync(path.join(dir, "index.js")).mtimeMs >= fs.statSync(build("index.js")).mtimeMs &&
    fs.readdirSync(dir).some((name) => name.endsWith(".wasm") && fs.readFileSync(path.join(dir, name)).equals(wasm));
  let from = dir;
  if (!fresh) {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "edgecache-figures-"));
    const run = spawnSync("make", ["--no-print-directory", "deploy", "DRY_RUN=1", `DEPLOY_OUTDIR=${scratch}`], {
      cwd: root,
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    assert.equal(run.status, 0, `make deploy DRY_RUN=1:\n${run.stdout}\n${run.stderr}`);
    from = scratch;
  }
  bundle = measure(from);
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  return bundle;
}

function dashboardFiles() {
  const source = read("src/admin/dashboard.rs");
  const files = [...source.matchAll(/include_str!\("\.\.\/\.\.\/(www\/[^"]+)"\)/g)].map((m) => path.join(root, m[1]));
  assert.ok(files.length > 0, "no include_str! of www/ in src/admin/dashboard.rs");
  return files;
}

const share = (n, of) => Number(((100 * n) / of).toFixed(1));

/** Each figure's measure. */
const MEASURES = {
  "wasm-raw-kb": () => fs.statSync(build("index_bg.wasm")).size / 1000,
  "wasm-gzip-kb": () => gzip9(build("index_bg.wasm")) / 1000,
  "bundle-raw-kb": () => dryRun().raw / 1000,
  "bundle-gzip-kb": () => dryRun().gzip / 1000,
  "bundle-js-kb": () => dryRun().files.find((f) => f.name === "index.js").bytes / 1000,
  "bundle-share-limit": () => share(dryRun().raw, LIMIT_UNCOMPRESSED),
  "bundle-share-free": () => share(dryRun().gzip, FORMER_COMPRESSED.free),
  "bundle-share-paid": () => share(dryRun().gzip, FORMER_COMPRESSED.paid),
  "fuzz-targets": () => read("Makefile").match(/^FUZZ_TARGETS := (.*)$/m)[1].trim().split(/\s+/).length,
  "dashboard-files": () => dashboardFiles().length,
  "dashboard-kb": () => dashboardFiles().reduce((sum, f) => sum + fs.statSync(f).size, 0) / 1000,
  "dashboard-gzip-kb": () => dashboardFiles().reduce((sum, f) => sum + gzip9(f), 0) / 1000,
};

/** Whether a stated figure agrees with its measure. */
export function agrees(figure, measured) {
  if (figure.approximate) return Math.abs(figure.value - measured) <= TOLERANCE * measured;
  return figure.value === measured;
}

const marked = documents().flatMap((file) => figures(file, read(file)));

describe("figures in the documentation", () => {
  it("every mark names a figure this test measures, and every such figure is marked", () => {
    const unknown = marked.filter((f) => !MEASURES[f.name]).map((f) => `${f.file}:${f.number}: ${f.name}`);
    assert.deepEqual(unknown, [], "marks this test cannot measure");
    const unmarked = Object.keys(MEASURES).filter((name) => !marked.some((f) => f.name === name));
    assert.deepEqual(unmarked, [], "figures marked nowhere");
  });

  for (const figure of marked.filter((f) => MEASURES[f.name])) {
    it(`${figure.file}:${figure.number}: ${figure.name} is ${figure.approximate ? "about " : ""}${figure.text}, as the build gives`, () => {
      const measured = MEASURES[figure.name]();
      assert.ok(
        agrees(figure, measured),
        `${figure.file}:${figure.number} says ${figure.name} is ${figure.approximate ? "about " : ""}${figure.text}; measured now: ${measured}` +
          (figure.approximate ? ` (${TOLERANCE * 100} % allowed)` : ""),
      );
    });
  }

  it("the marks are read as meant: the number before the comment, approximate after 'about'", () => {
    const text = "**1,089,913 bytes <!-- figure: a -->\nraw, 1.7% <!-- figure: b --> and about 57 KB <!-- figure: c -->";
    const [a, b, c] = figures("x.md", text);
    assert.deepEqual([a.value, a.approximate, b.value, c.value, c.approximate], [1089913, false, 1.7, 57, true]);
    assert.ok(agrees(c, 59.5) && !agrees(c, 60.1) && !agrees(a, 1089914));
  });
});
