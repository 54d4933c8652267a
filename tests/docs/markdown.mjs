// What the documentation tests read of README.md and docs/*.md: the files, their headings as
// GitHub names their anchors, their links, their tables and the figures marked in them.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** README.md and every docs/*.md, as paths relative to the root. */
export function documents() {
  const docs = fs
    .readdirSync(path.join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`);
  return ["README.md", ...docs];
}

export const read = (file) => fs.readFileSync(path.join(root, file), "utf8");

/** The lines of `text` outside fenced code blocks, with their numbers (from 1). */
export function prose(text) {
  const out = [];
  let fence = null;
  text.split("\n").forEach((line, i) => {
    const open = line.match(/^\s*(```+|~~~+)/);
    if (open) {
      if (fence === null) fence = open[1];
      else if (line.trim().startsWith(fence)) fence = null;
      return;
    }
    if (fence === null) out.push({ line, number: i + 1 });
  });
  return out;
}

/** GitHub's anchor for a heading: lower case, inline code and markup dropped, punctuation
 * removed (letters, digits, `-` and `_` kept), each space a `-`; a repeated one gets `-1`, `-2`. */
export function slug(heading) {
  return heading
    .replace(/`/g, "")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** Every anchor a document has: its headings' and its explicit `<a id="…">`s. */
export function anchors(text) {
  const found = new Set();
  const seen = new Map();
  for (const { line } of prose(text)) {
    const heading = line.match(/^#{1,6}\s+(.*?)\s*#*\s*$/);
    if (heading) {
      const base = slug(heading[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      found.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const id of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) found.add(id[1]);
  }
  return found;
}

/** The links of a document outside code (fenced or inline): `{target, text, number}`. */
export function links(text) {
  const out = [];
  // Joined paragraphs, so that a link whose text wraps onto the next line is found.
  const lines = prose(text);
  for (let i = 0; i < lines.length; i++) {
    const { line, number } = lines[i];
    const joined = lines[i + 1] ? `${line}\n${lines[i + 1].line}` : line;
    const code = withoutCode(joined);
    for (const m of code.matchAll(/!?\[((?:[^\]\n]|\n(?!\n))*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      // A match that starts on the next line is found again from there.
      if (m.index > line.length) continue;
      const text = joined.slice(m.index, m.index + m[0].length).replace(/^!?\[|\]\([^)]*\)$/g, "");
      out.push({ target: m[2], text: text.replace(/\s+/g, " "), number });
    }
  }
  return out;
}

/** The text with inline code spans blanked out (same length), so links inside them are not read. */
export function withoutCode(text) {
  return text.replace(/(`+)([\s\S]*?)\1/g, (span) => " ".repeat(span.length));
}

/** The table rows of a document: `{cells, number}`, the separator rows left out. */
export function tableRows(text) {
  const rows = [];
  for (const { line, number } of prose(text)) {
    if (!line.startsWith("|")) continue;
    if (/^\|[\s|:-]+\|$/.test(line.trim())) continue;
    // Split on the `|` that are not inside inline code nor escaped.
    const cells = [];
    let cell = "";
    let tick = 0;
    const body = line.trim().replace(/^\|/, "").replace(/\|$/, "");
    for (let i = 0; i < body.length; i++) {
      const c = body[i];
      if (c === "`") tick ^= 1;
      if (c === "|" && !tick && body[i - 1] !== "\\") {
        cells.push(cell.trim());
        cell = "";
      } else cell += c;
    }
    cells.push(cell.trim());
    rows.push({ cells, number });
  }
  return rows;
}

/**
 * The figures marked in a document: an HTML comment `<!-- figure: NAME -->` placed right
 * after the figure it marks, the figure being the last number before it on the line (or the
 * line before): `**1,089,913 bytes** <!-- figure: wasm-raw -->`. A figure written with
 * "about" or "~" just before it is approximate. `{name, value, text, approximate, file, number}`.
 */
export function figures(file, text) {
  const out = [];
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    for (const m of line.matchAll(/<!--\s*figure:\s*([a-z0-9-]+)\s*-->/g)) {
      const before = (i > 0 ? lines[i - 1] + "\n" : "") + line.slice(0, m.index);
      const numbers = [...before.matchAll(/(about\s+|~)?(\d[\d,]*(?:\.\d+)?)/g)];
      const last = numbers.at(-1);
      if (!last) throw new Error(`${file}:${i + 1}: figure ${m[1]} marks no number`);
      out.push({
        name: m[1],
        text: last[2],
        value: Number(last[2].replace(/,/g, "")),
        approximate: Boolean(last[1]),
        file,
        number: i + 1,
      });
    }
  });
  return out;
}
