#!/usr/bin/env node
// Checks that the "Layout" section of docs/development.md matches the tree: every folder and
// file it names exists, and every folder of both crates' sources is named. Run by
// `make architecture`.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const DOC = "docs/development.md";
const doc = readFileSync(DOC, "utf8");
const section = doc.split("\n## Layout\n")[1]?.split(/\n#{1,2} /)[0];
const block = section?.match(/```text\n([\s\S]*?)```/)?.[1];
if (!block) {
  console.error(`${DOC}: no \`\`\`text block under ## Layout`);
  process.exit(1);
}

// The tree as the block draws it: a line indented under a folder names something in it.
const named = new Set();
const parents = [];
for (const line of block.split("\n")) {
  // A path starts a line (indented by two spaces a level); its description follows after
  // two or more spaces, and a description's further lines are indented past every path.
  const match = line.match(/^( {0,8})(\S.*?)(?: {2,}|$)/);
  if (!match) continue;
  const depth = match[1].length / 2;
  parents.length = depth;
  const paths = match[2].split(",").map((p) => p.trim()).filter(Boolean);
  for (const path of paths) {
    // A path names its folders too (`bin/check.rs` names `bin/`).
    const parts = join(...parents, path).replace(/\/$/, "").split("/");
    parts.forEach((_, i) => named.add(parts.slice(0, i + 1).join("/")));
  }
  if (paths.length === 1 && paths[0].endsWith("/")) parents[depth] = paths[0];
}
// File names mentioned in a folder's description ("mod.rs (…), parse.rs") belong to it.
const described = new Map();
for (const line of block.split("\n")) {
  for (const file of line.matchAll(/\b([a-z_]+\.(?:rs|mjs))\b/g)) described.set(file[1], true);
}

const problems = [];
for (const path of named) {
  if (!existsSync(path)) problems.push(`names ${path}, which does not exist`);
}
const folders = (dir) =>
  readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isDirectory() && !path.endsWith("/tests"))
    .flatMap((path) => [path, ...folders(path)]);
for (const root of ["core/src", "src"]) {
  for (const folder of folders(root)) {
    const depthOk = folder.split("/").length <= root.split("/").length + 1;
    if (depthOk && !named.has(folder)) problems.push(`does not name the folder ${folder}/`);
  }
  for (const file of readdirSync(root)) {
    const path = join(root, file);
    if (statSync(path).isFile() && !named.has(path) && !described.has(file)) {
      problems.push(`does not name ${path}`);
    }
  }
}
if (problems.length) {
  for (const p of problems) console.error(`${DOC}'s Layout ${p}`);
  process.exit(1);
}
console.log(`${DOC}'s Layout: ${named.size} paths, all present; every source folder named`);
