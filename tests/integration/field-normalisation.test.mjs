// The origin sees what the key says, for request fields too: every field the key holds in a
// canonical form (Accept-Language, Accept-Encoding, Accept, Accept-Charset) reaches the origin
// in that form, so an odd spelling cannot have an origin's answer to it stored for the
// ordinary spelling. Against origins that negotiate as real ones do: strictly (Django's
// `parse_accept_lang_header`: a regex that rejects the whole field on anything odd, and the
// default then) and loosely (Express's `negotiator`: split on `,` and `;`, `q` in any case,
// junk skipped). For each odd spelling: an ordinary client asking afterwards gets its own
// answer, the field the origin received is in a grammar both parse alike, and a request
// carrying exactly what the origin received is answered from the entry the odd spelling
// stored: the entry's key is what the origin was sent.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";

// Django's accept_language_re, generalised to one list element (a token, `type/subtype`, or a
// language range, with `;name=value` parameters where the field has them, and a weight).
const QVALUE = String.raw`(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)`;
const TOKEN = String.raw`[!#$%&'*+\-.^_\x60|~0-9A-Za-z]+`;
const VALUE_BY_FIELD = {
  "accept-language": String.raw`[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*`,
  "accept-encoding": TOKEN,
  "accept-charset": TOKEN,
  accept: String.raw`${TOKEN}/${TOKEN}(?:;${TOKEN}=(?:${TOKEN}|"[^"\\]*"))*`,
};

/** Strict reading (Django): the whole field must be elements of the grammar, else `null`. */
function strictParse(field, value) {
  if (value === undefined) return [];
  if (value.length > 500) return null;
  const element = new RegExp(String.raw`(${VALUE_BY_FIELD[field]})(?:\s*;\s*q=(${QVALUE}))?(?:\s*,\s*|$)`, "y");
  const text = field === "accept" ? value : value.toLowerCase();
  const list = [];
  let at = 0;
  while (at < text.length) {
    element.lastIndex = at;
    const match = element.exec(text);
    if (!match || match[0].length === 0) return null;
    list.push({ value: match[1].toLowerCase(), q: match[2] === undefined ? 1 : Number(match[2]) });
    at = element.lastIndex;
  }
  return list;
}

/** Loose reading (negotiator): split on `,` and `;`, `q` in any case and spacing, junk skipped. */
function looseParse(field, value) {
  if (value === undefined) return [];
  const list = [];
  for (const element of value.split(",")) {
    const [head, ...params] = element.split(";");
    const name = head.trim().toLowerCase();
    if (!name) continue;
    let q = 1;
    const kept = [];
    for (const param of params) {
      const [key, v = ""] = param.split("=");
      if (key.trim().toLowerCase() === "q") q = parseFloat(v.trim());
      else if (field === "accept" && key.trim()) kept.push(`${key.trim().toLowerCase()}=${v.trim()}`);
    }
    if (Number.isNaN(q)) q = 1;
    list.push({ value: [name, ...kept].join(";"), q });
  }
  return list;
}

/** What a site offering `offered` (its default first) answers for a parsed list. */
function choose(field, list, offered) {
  const [fallback] = offered;
  if (list === null) return fallback;
  const ranked = list.map((e, i) => ({ ...e, i })).filter((e) => e.q > 0).sort((a, b) => b.q - a.q || a.i - b.i);
  for (const { value } of ranked) {
    const bare = value.split(";")[0];
    const found = offered.find((o) => {
      if (field === "accept-language") return bare === o || bare.split("-")[0] === o;
      if (field === "accept") return bare === o || bare === `${o.split("/")[0]}/*`;
      return bare === o;
    });
    if (found) return found;
    if (bare === "*" || bare === "*/*") return fallback;
  }
  return fallback;
}

/** The fields under test: what a site offers (its default first), what an ordinary client sends and gets, and odd spellings. */
const FIELDS = {
  "accept-language": {
    offered: ["de", "en", "fr"],
    ordinary: "en-US,en;q=0.9",
    expected: "en",
    odd: [
      "en-US,,en;q=0.9",
      "en-US;level=1,en;q=0.9",
      "en-US,en;q = 0.9",
      "en-US,en;q=0.9;q=0.8",
      `en-US,en;q=0.9,${" ".repeat(500)}x`,
      `en-US,en;q=0.9${",".repeat(500)}`,
      "de-DE;q=0.5,en;Q=0.7",
      "EN-us , EN ; q=0.9",
      "en-US,en;q=0.9,xx-@@@",
      "en-US;,en;q=0.9",
      "en-US;q=1.0,en;q=0.90",
      "fr;q=0.1,en-US,en;q=0.9,fr;q=0.95",
    ],
  },
  accept: {
    offered: ["text/html", "application/json"],
    ordinary: "application/json,text/plain;q=0.9,*/*;q=0.8",
    expected: "application/json",
    odd: [
      "application/json,,text/plain;q=0.9,*/*;q=0.8",
      "Application/JSON,text/plain;Q=0.9,*/*;q=0.8",
      "application/json;q = 1,text/plain;q=0.9",
      "application/json;q=1;q=0.1,text/html;q=0.5",
      "text/html;level,application/json",
      `application/json,${" ".repeat(500)},*/*;q=0.8`,
    ],
  },
  "accept-charset": {
    offered: ["utf-8", "iso-8859-1"],
    ordinary: "iso-8859-1,utf-8;q=0.7",
    expected: "iso-8859-1",
    odd: ["iso-8859-1,,utf-8;q=0.7", "ISO-8859-1;Q=1,utf-8;q=0.7", "iso-8859-1;q = 1, utf-8;q=0.5", "iso-8859-1;x,utf-8"],
  },
  // workerd itself rewrites Accept-Encoding on the requests a worker gets and sends (it
  // handles content codings), so here the invariant holds through the runtime's value.
  "accept-encoding": {
    offered: ["identity", "br", "gzip"],
    ordinary: "br, gzip;q=0.8, deflate;q=0.5",
    expected: "br",
    odd: ["gzip,, deflate, br", "BR;Q=1, gzip;q=0.5", "gzip;q=0;q=1, br", "gzip, br;level=9", "br;q = 0.5, gzip;q=0.4"],
  },
};

/** An origin route negotiating `field` strictly or loosely, answering what it chose and what it was sent. */
function negotiating(field, strictness) {
  const { offered } = FIELDS[field];
  return (record) => {
    const sent = record.headers[field];
    const list = strictness === "strict" ? strictParse(field, sent) : looseParse(field, sent);
    const chosen = choose(field, list, offered);
    return {
      headers: { "cache-control": "max-age=600", vary: field, "content-type": "text/plain", "x-chosen": chosen },
      body: chosen,
    };
  };
}

for (const field of Object.keys(FIELDS)) {
  describe(`${field} reaches the origin as the key holds it`, () => {
    const { origin, worker } = withWorker({ config: { backends: ["memory"] } });
    const { ordinary, expected, offered, odd } = FIELDS[field];

    for (const strictness of ["strict", "loose"]) {
      it(`an odd spelling never changes what an ordinary client gets from an origin that parses ${strictness === "strict" ? "strictly (Django)" : "loosely (negotiator)"}`, async () => {
        assert.equal(choose(field, strictParse(field, ordinary), offered), expected, "the ordinary spelling is read alike by both origins");
        for (const [i, spelling] of odd.entries()) {
          const path = `/${strictness}/${field}/${i}`;
          origin.on(path, negotiating(field, strictness));
          const attack = await worker.fetch(path, { headers: { [field]: spelling } });
          assert.equal(attack.status, 200);
          const sent = origin.last(path).headers[field];
          if (sent !== undefined) {
            const strictly = strictParse(field, sent);
            assert.notEqual(strictly, null, `${JSON.stringify(spelling)} reached the origin as ${JSON.stringify(sent)}, which a strict parser rejects`);
            assert.equal(choose(field, strictly, offered), choose(field, looseParse(field, sent), offered), `${JSON.stringify(sent)} is read alike by strict and loose parsers`);
          }
          // What the origin was sent is the key the answer is stored under.
          const asked = origin.count(path);
          const again = await worker.stored(path, { headers: sent === undefined ? {} : { [field]: sent } });
          assert.equal(again.headers.get("x-chosen"), attack.body, `${JSON.stringify(spelling)}: the entry for what the origin was sent holds its answer`);
          assert.equal(origin.count(path), asked, "answered from the entry the odd spelling stored");
          const victim = await worker.fetch(path, { headers: { [field]: ordinary } });
          assert.equal(victim.body, expected, `after ${JSON.stringify(spelling)} (sent as ${JSON.stringify(sent)}), ${JSON.stringify(ordinary)} got ${victim.body}`);
        }
      });
    }
  });
}

describe("a field with nothing readable left", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory"] } });

  it("is not sent, and is keyed as absent", async () => {
    origin.on("/junk", negotiating("accept-language", "loose"));
    const junk = await worker.fetch("/junk", { headers: { "accept-language": ";;,q=1,@@" } });
    assert.equal(origin.last("/junk").headers["accept-language"], undefined, "nothing unreadable reaches the origin");
    assert.equal(junk.body, "de", "the origin's answer to a request without the field");
    await worker.stored("/junk", { headers: { "accept-language": ";;,q=1,@@" } });
    const other = await worker.fetch("/junk", { headers: { "accept-language": "@@, ;q=x" } });
    assert.match(other.cacheStatus, /; hit/, "another unreadable value shares the key of none");
    assert.equal(other.body, junk.body);
    const english = await worker.fetch("/junk", { headers: { "accept-language": "en" } });
    assert.equal(english.body, "en", "a readable value is its own key");
    assert.equal(origin.count("/junk"), 2);
  });

  it("leaves fields without a known grammar as the client sent them, keyed as sent", async () => {
    origin.on("/device", (record) => ({
      headers: { "cache-control": "max-age=600", vary: "X-Device" },
      body: `device=${record.headers["x-device"]}`,
    }));
    const spaced = await worker.fetch("/device", { headers: { "x-device": "a,  b" } });
    assert.equal(spaced.body, "device=a,  b");
    const plain = await worker.fetch("/device", { headers: { "x-device": "a, b" } });
    assert.equal(plain.body, "device=a, b", "another spelling is another key, since the origin reads it apart");
  });
});
