// Every relative link of README.md and docs/*.md leads somewhere: the file or folder exists,
// and the anchor, if any, is a heading (or an `<a id>`) of the file it names. Links to other
// sites are not followed (the tests have no internet).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { anchors, documents, links, read, root } from "./markdown.mjs";

const external = (target) => /^[a-z][a-z0-9+.-]*:/i.test(target);

/** The dead links of `file`, as readable lines. */
function deadLinks(file) {
  const dead = [];
  const anchorsOf = new Map();
  const anchorsIn = (doc) => {
    if (!anchorsOf.has(doc)) anchorsOf.set(doc, anchors(read(doc)));
    return anchorsOf.get(doc);
  };
  for (const { target, text, number } of links(read(file))) {
    if (external(target)) continue;
    const [pathPart, anchor] = target.split("#");
    const resolved = pathPart ? path.normalize(path.join(path.dirname(file), decodeURIComponent(pathPart))) : file;
    const where = `${file}:${number}: [${text}](${target})`;
    if (resolved.startsWith("..")) {
      dead.push(`${where}: outside the repository`);
      continue;
    }
    if (!fs.existsSync(path.join(root, resolved))) {
      dead.push(`${where}: ${resolved} does not exist`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!resolved.endsWith(".md")) {
      dead.push(`${where}: an anchor in a file that is not Markdown`);
      continue;
    }
    if (!anchorsIn(resolved).has(anchor)) dead.push(`${where}: ${resolved} has no heading or <a id> "${anchor}"`);
  }
  return dead;
}

describe("links in the documentation", () => {
  for (const file of documents()) {
    it(`every relative link and anchor in ${file} resolves`, () => {
      assert.deepEqual(deadLinks(file), []);
    });
  }

  it("the check finds a missing file, a missing anchor and a good link apart", () => {
    const dir = fs.mkdtempSync(path.join(root, "docs", ".links-test-"));
    const rel = path.relative(root, dir);
    try {
      fs.writeFileSync(path.join(dir, "a.md"), "# Title\n\n## A `code` heading: yes\n\n[ok](#a-code-heading-yes) [ok too](#title)\n[gone](b.md) [no anchor](#nowhere)\n`[in code](nowhere.md)`\n");
      const dead = deadLinks(`${rel}/a.md`);
      assert.equal(dead.length, 2, dead.join("\n"));
      assert.match(dead[0], /b\.md does not exist/);
      assert.match(dead[1], /no heading or <a id> "nowhere"/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
