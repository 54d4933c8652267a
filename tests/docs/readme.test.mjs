// The README's shape: it opens with the two set-up commands (the second is what CI runs),
// stays short (the reference is in docs/), and no table cell of the documentation runs past
// 300 characters; `make help` speaks of targets, not of issue numbers.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { documents, read, root, tableRows } from "./markdown.mjs";

const MAX_README_LINES = 400;
const MAX_CELL = 300;

describe("the README", () => {
  const readme = read("README.md");

  it("opens with exactly two set-up commands, make dev and make test", () => {
    const [title, blank, fence, ...rest] = readme.split("\n");
    assert.match(title, /^# edgecache$/);
    assert.equal(blank, "");
    assert.equal(fence, "```sh");
    const commands = rest.slice(0, rest.indexOf("```")).map((line) => line.replace(/\s+#.*$/, "").trim());
    assert.deepEqual(commands, ["make dev", "make test"]);
  });

  it("names as its test command what CI runs", () => {
    const ci = read(".ci/run")
      .split("\n")
      .filter((line) => line.trim() && !line.trim().startsWith("#") && !/^(set|cd|export) /.test(line.trim()));
    assert.deepEqual(ci, ["make test"]);
  });

  it("shows the ten options in a policy make check accepts", () => {
    const section = readme.split("\n## The ten options people change most\n")[1]?.split("\n## ")[0];
    const toml = section?.match(/```toml\n([\s\S]*?)```/)?.[1];
    assert.ok(toml, "no ```toml block under the ten options");
    const numbered = [...toml.matchAll(/# (\d+)\. /g)].map((m) => Number(m[1]));
    assert.deepEqual(numbered, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "edgecache-readme-"));
    try {
      const file = path.join(dir, "wrangler.toml");
      fs.writeFileSync(file, toml);
      const check = spawnSync("make", ["--no-print-directory", "-s", "check", `CONFIG=${file}`], { cwd: root, encoding: "utf8" });
      // The snippet has no bindings (those are wrangler.toml's), so make check complains about
      // them; what it says of the policy itself (EDGECACHE.…, ORIGIN, rules) must be nothing.
      const said = `${check.stdout}${check.stderr}`;
      assert.match(said, /\[vars\]/, `make check ran:\n${said}`);
      const aboutPolicy = said.split("\n").filter((line) => /EDGECACHE\.|ORIGIN|never applies|can never match/.test(line));
      assert.deepEqual(aboutPolicy, [], said);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`is at most ${MAX_README_LINES} lines`, () => {
    const lines = readme.trimEnd().split("\n").length;
    assert.ok(lines <= MAX_README_LINES, `README.md has ${lines} lines; move reference text to docs/`);
  });
});

describe("tables in the documentation", () => {
  for (const file of documents()) {
    it(`no cell of ${file} is longer than ${MAX_CELL} characters`, () => {
      const long = [];
      for (const { cells, number } of tableRows(read(file))) {
        for (const cell of cells) {
          if (cell.length > MAX_CELL) long.push(`${file}:${number}: ${cell.length} characters: ${cell.slice(0, 60)}…`);
        }
      }
      assert.deepEqual(long, []);
    });
  }
});

describe("make help", () => {
  it("mentions no issue number", () => {
    const help = spawnSync("make", ["--no-print-directory", "help"], { cwd: root, encoding: "utf8" });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /make dev/);
    assert.doesNotMatch(help.stdout, /#\d+|\bissues?\s*\d+/i);
  });
});
