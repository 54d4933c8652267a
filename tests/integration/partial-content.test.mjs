// Partial content (RFC 9111 §3.3, §3.4): 206 answers kept as parts and later ranges served
// from them, the origin asked only for the bytes the parts miss, parts combined into a
// complete response, and nothing mixed across versions, kept past max_body_bytes, or kept
// from an origin whose Content-Range is not the range asked for.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";

const LENGTH = 1000;

/** `LENGTH` bytes that differ along their length, marked with `version`. */
function file(version) {
  let text = "";
  for (let i = 0; text.length < LENGTH; i++) text += `${version}:${String(i).padStart(4, "0")};`;
  return text.slice(0, LENGTH);
}

/**
 * An origin route serving `state.body` under `state.etag` with single byte ranges and
 * If-Range (RFC 9110 §14), as a file server does; `state.lie` answers every range with the
 * one a byte further on (and says so in Content-Range), and `state.ignoreIfRange` answers
 * ranges whatever If-Range says.
 */
function ranged(state) {
  return (record) => {
    const { body, etag } = state;
    const headers = { "cache-control": "max-age=60", "content-type": "application/octet-stream", etag, "accept-ranges": "bytes", ...(state.headers ?? {}) };
    const range = record.headers.range;
    const ifRange = record.headers["if-range"];
    const match = range && /^bytes=(\d*)-(\d*)$/.exec(range);
    if (!match || (ifRange && ifRange !== etag && !state.ignoreIfRange)) return { headers, body };
    let first, last;
    if (match[1] === "") {
      first = Math.max(0, body.length - Number(match[2]));
      last = body.length - 1;
    } else {
      first = Number(match[1]);
      last = match[2] === "" ? body.length - 1 : Math.min(Number(match[2]), body.length - 1);
    }
    if (first >= body.length) return { status: 416, headers: { "content-range": `bytes */${body.length}` }, body: "" };
    if (state.lie) [first, last] = [first + 1, Math.min(last + 1, body.length - 1)];
    return {
      status: 206,
      headers: { ...headers, "content-range": `bytes ${first}-${last}/${body.length}` },
      body: body.slice(first, last + 1),
    };
  };
}

/** The Range fields the origin was sent for `path`, in order. */
function rangesAsked(origin, path) {
  return origin.requests.filter((r) => r.path === path).map((r) => [r.headers.range ?? null, r.headers["if-range"] ?? null]);
}

for (const backends of [["memory"], ["cache"], ["kv"]]) {
  describe(`parts on ${backends.join(" → ")}`, () => {
    const { origin, worker } = withWorker({ config: { backends } });

    it("keeps a 206 and answers a range inside it from storage", async () => {
      const body = file("a");
      origin.on("/inside", ranged({ body, etag: '"a"' }));
      const first = await worker.fetchStored("/inside", { headers: { range: "bytes=0-99" } });
      assert.equal(first.status, 206);
      assert.equal(first.body, body.slice(0, 100));
      assert.equal(first.cacheStatus, "edgecache; fwd=miss; fwd-status=206; stored");
      const second = await worker.fetch("/inside", { headers: { range: "bytes=10-50" } });
      assert.equal(second.status, 206);
      assert.equal(second.body, body.slice(10, 51));
      assert.equal(second.headers.get("content-range"), `bytes 10-50/${LENGTH}`);
      assert.equal(second.headers.get("etag"), '"a"', "the part carries the stored fields");
      assert.match(second.cacheStatus, new RegExp(`^edgecache; hit; ttl=\\d+; detail=${backends[0]}$`));
      assert.deepEqual(rangesAsked(origin, "/inside"), [["bytes=0-99", null]], "the origin was asked once");
    });

    it("asks the origin only for the bytes the parts miss", async () => {
      const body = file("b");
      origin.on("/missing", ranged({ body, etag: '"b"' }));
      await worker.fetchStored("/missing", { headers: { range: "bytes=0-99" } });
      const second = await worker.fetchStored("/missing", { headers: { range: "bytes=50-149" } });
      assert.equal(second.status, 206);
      assert.equal(second.body, body.slice(50, 150));
      assert.equal(second.headers.get("content-range"), `bytes 50-149/${LENGTH}`);
      assert.equal(second.cacheStatus, "edgecache; fwd=partial; fwd-status=206; stored");
      assert.deepEqual(rangesAsked(origin, "/missing"), [
        ["bytes=0-99", null],
        ["bytes=100-149", '"b"'],
      ]);
      const third = await worker.fetch("/missing", { headers: { range: "bytes=0-149" } });
      assert.equal(third.body, body.slice(0, 150), "the merged parts answer across their seam");
      assert.match(third.cacheStatus, /; hit;/);
      assert.equal(origin.count("/missing", "GET"), 2);
    });

    it("combines parts that hold every byte into a complete response a full GET hits", async () => {
      const body = file("c");
      origin.on("/whole", ranged({ body, etag: '"c"' }));
      await worker.fetchStored("/whole", { headers: { range: "bytes=0-499" } });
      const rest = await worker.fetchStored("/whole", { headers: { range: "bytes=500-" } });
      assert.equal(rest.body, body.slice(500));
      const full = await worker.fetch("/whole");
      assert.equal(full.status, 200);
      assert.ok(full.body === body, "the combined body is the file, byte for byte");
      assert.equal(full.headers.get("content-range"), null);
      assert.match(full.cacheStatus, /; hit;/);
      const suffix = await worker.fetch("/whole", { headers: { range: "bytes=-10" } });
      assert.equal(suffix.status, 206);
      assert.equal(suffix.body, body.slice(-10));
      assert.deepEqual(rangesAsked(origin, "/whole"), [
        ["bytes=0-499", null],
        ["bytes=500-999", '"c"'],
      ]);
    });

    it("a full GET with only parts stored fetches the whole, which replaces them", async () => {
      const body = file("d");
      origin.on("/replaced", ranged({ body, etag: '"d"' }));
      await worker.fetchStored("/replaced", { headers: { range: "bytes=0-99" } });
      const full = await worker.fetchStored("/replaced");
      assert.equal(full.status, 200);
      assert.equal(full.body, body);
      assert.equal(full.cacheStatus, "edgecache; fwd=miss; fwd-status=200; stored");
      const part = await worker.fetch("/replaced", { headers: { range: "bytes=900-999" } });
      assert.equal(part.body, body.slice(900));
      assert.match(part.cacheStatus, /; hit;/);
      assert.equal(origin.count("/replaced", "GET"), 2);
    });

    it("never mixes the bytes of two versions", async () => {
      const state = { body: file("e1"), etag: '"e1"' };
      origin.on("/versions", ranged(state));
      await worker.fetchStored("/versions", { headers: { range: "bytes=0-99" } });
      // The file changes: If-Range names the held version, so the origin sends the new one whole.
      Object.assign(state, { body: file("e2"), etag: '"e2"' });
      const changed = await worker.fetchStored("/versions", { headers: { range: "bytes=50-149" } });
      assert.equal(changed.status, 200, "the whole new version, not a part of it spliced onto the old");
      assert.equal(changed.body, file("e2"));
      assert.deepEqual(rangesAsked(origin, "/versions").at(-1), ["bytes=100-149", '"e1"']);
      const next = await worker.fetch("/versions", { headers: { range: "bytes=0-99" } });
      assert.equal(next.body, file("e2").slice(0, 100), "the old parts are gone");
      assert.match(next.cacheStatus, /; hit;/);
    });

    it("sends a client's If-Range on when the held parts are stale, so it never gets a part of another version", async () => {
      const state = { body: file("k1"), etag: '"k1"', headers: { "cache-control": "max-age=1" } };
      origin.on("/stale-parts", ranged(state));
      await worker.fetchStored("/stale-parts", { headers: { range: "bytes=0-99" } });
      Object.assign(state, { body: file("k2"), etag: '"k2"' });
      await new Promise((r) => setTimeout(r, 1100));
      // An explicit Cache-Control, or fetch() adds `no-cache` to a request with If-Range.
      const resumed = await worker.fetch("/stale-parts", { headers: { range: "bytes=50-149", "if-range": '"k1"', "cache-control": "no-transform" } });
      assert.deepEqual(rangesAsked(origin, "/stale-parts").at(-1), ["bytes=50-149", '"k1"']);
      assert.equal(resumed.status, 200, "the file changed: the whole new version");
      assert.equal(resumed.body, file("k2"));
      assert.match(resumed.cacheStatus, /^edgecache; fwd=stale; fwd-status=200/);
    });

    it("drops held parts when the origin sends a part of another version", async () => {
      const state = { body: file("f1"), etag: '"f1"', ignoreIfRange: true };
      origin.on("/ignores-if-range", ranged(state));
      await worker.fetchStored("/ignores-if-range", { headers: { range: "bytes=0-99" } });
      Object.assign(state, { body: file("f2"), etag: '"f2"' });
      const other = await worker.fetch("/ignores-if-range", { headers: { range: "bytes=50-149" } });
      assert.equal(other.status, 206, "the client still gets the origin's answer");
      assert.equal(other.body, file("f2").slice(100, 150));
      assert.equal(other.headers.get("content-range"), `bytes 100-149/${LENGTH}`);
      assert.equal(other.cacheStatus, "edgecache; fwd=partial; fwd-status=206; detail=part-changed");
      // The held parts go (in the background): the next range is a miss, and is kept again.
      let next;
      for (let i = 0; i < 50; i++) {
        next = await worker.fetch("/ignores-if-range", { headers: { range: "bytes=0-9" } });
        if (!next.cacheStatus.includes("; hit")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.match(next.cacheStatus, /fwd=miss; fwd-status=206/);
      assert.equal(next.body, file("f2").slice(0, 10));
    });

    it("never combines parts across variants", async () => {
      const states = {
        en: { body: file("en"), etag: '"en"', headers: { vary: "accept-language" } },
        fr: { body: file("fr"), etag: '"fr"', headers: { vary: "accept-language" } },
      };
      origin.on("/variants", (record) => ranged(states[record.headers["accept-language"] === "fr" ? "fr" : "en"])(record));
      const en = { "accept-language": "en" };
      const fr = { "accept-language": "fr" };
      await worker.fetchStored("/variants", { headers: { ...en, range: "bytes=0-99" } });
      const other = await worker.fetchStored("/variants", { headers: { ...fr, range: "bytes=50-149" } });
      assert.equal(other.body, file("fr").slice(50, 150));
      assert.equal(other.cacheStatus, "edgecache; fwd=vary-miss; fwd-status=206; stored");
      assert.deepEqual(rangesAsked(origin, "/variants").at(-1), ["bytes=50-149", null], "the whole range: nothing of another variant is used");
      const enHit = await worker.fetch("/variants", { headers: { ...en, range: "bytes=10-50" } });
      assert.equal(enHit.body, file("en").slice(10, 51));
      assert.match(enHit.cacheStatus, /; hit;/);
      const frHit = await worker.fetch("/variants", { headers: { ...fr, range: "bytes=60-140" } });
      assert.equal(frHit.body, file("fr").slice(60, 141));
      assert.match(frHit.cacheStatus, /; hit;/);
      assert.equal(origin.count("/variants", "GET"), 2);
    });

    it("answers a matching If-None-Match from the parts with a 304", async () => {
      origin.on("/conditional", ranged({ body: file("j"), etag: '"j"' }));
      await worker.fetchStored("/conditional", { headers: { range: "bytes=0-99" } });
      // An explicit Cache-Control, or fetch() adds `no-cache` to a conditional request.
      const conditional = await worker.fetch("/conditional", { headers: { range: "bytes=0-9", "if-none-match": '"j"', "cache-control": "no-transform" } });
      assert.equal(conditional.status, 304);
      assert.match(conditional.cacheStatus, /; hit;/);
      assert.equal(origin.count("/conditional", "GET"), 1);
    });

    it("keeps nothing from an origin whose Content-Range is not the range asked", async () => {
      const body = file("g");
      origin.on("/lying", ranged({ body, etag: '"g"', lie: true }));
      const first = await worker.fetch("/lying", { headers: { range: "bytes=0-99" } });
      assert.equal(first.status, 206, "the client still gets an answer");
      assert.equal(first.headers.get("content-range"), `bytes 1-100/${LENGTH}`, "as the origin sent it");
      assert.equal(first.body, body.slice(1, 101));
      assert.equal(first.cacheStatus, "edgecache; fwd=miss; fwd-status=206; detail=part-mismatch");
      const second = await worker.fetch("/lying", { headers: { range: "bytes=0-99" } });
      assert.match(second.cacheStatus, /fwd=miss; fwd-status=206; detail=part-mismatch/);
      assert.equal(origin.count("/lying", "GET"), 2, "nothing was kept");
      // Nor from one whose body is shorter than the Content-Range it names.
      origin.on("/short", { status: 206, headers: { "cache-control": "max-age=60", etag: '"s"', "content-range": `bytes 0-99/${LENGTH}` }, body: "x".repeat(50) });
      const short = await worker.fetch("/short", { headers: { range: "bytes=0-99" } });
      assert.equal(short.cacheStatus, "edgecache; fwd=miss; fwd-status=206; detail=part-mismatch");
      await worker.fetch("/short", { headers: { range: "bytes=0-99" } });
      assert.equal(origin.count("/short", "GET"), 2, "nothing was kept");
      // Or, without a Content-Length, whose body turns out shorter while it is read.
      origin.onRaw("/chunked", (req, res) => {
        res.writeHead(206, { "cache-control": "max-age=60", etag: '"c"', "content-range": `bytes 0-99/${LENGTH}` });
        res.end("y".repeat(50));
      });
      const chunked = await worker.fetch("/chunked", { headers: { range: "bytes=0-99" } });
      assert.equal(chunked.status, 502, "a body that is not the range named cannot be sent on as it");
      assert.equal(chunked.cacheStatus, "edgecache; fwd=miss; fwd-status=206; detail=part-mismatch");
      await worker.fetch("/chunked", { headers: { range: "bytes=0-99" } });
      assert.equal(origin.count("/chunked", "GET"), 2, "nothing was kept");
    });
  });
}

describe("parts and max_body_bytes", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory"], max_body_bytes: 500 } });

  it("keeps no part of a representation longer than max_body_bytes", async () => {
    const body = file("h");
    origin.on("/large", ranged({ body, etag: '"h"' }));
    const first = await worker.fetch("/large", { headers: { range: "bytes=0-99" } });
    assert.equal(first.status, 206);
    assert.equal(first.body, body.slice(0, 100));
    assert.equal(first.cacheStatus, "edgecache; fwd=miss; fwd-status=206; detail=too-large");
    const second = await worker.fetch("/large", { headers: { range: "bytes=0-99" } });
    assert.match(second.cacheStatus, /fwd=miss; fwd-status=206; detail=too-large/);
    assert.equal(origin.count("/large", "GET"), 2);
  });

  it("still passes several ranges on as the client sent them", async () => {
    origin.on("/several", ranged({ body: file("i"), etag: '"i"' }));
    const several = await worker.fetch("/several", { headers: { range: "bytes=0-1, 4-5" } });
    assert.match(several.cacheStatus, /detail=range/);
    assert.equal(origin.last("/several").headers.range, "bytes=0-1, 4-5");
  });
});

const MIB = 1024 * 1024;

/** `length` bytes that differ along their length, marked with `version`. */
function bigFile(version, length) {
  const unit = `${version}:`;
  let text = "";
  for (let i = 0; text.length < length; i++) text += `${unit}${String(i).padStart(7, "0")};`;
  return text.slice(0, length);
}

for (const backends of [["memory"], ["cache"], ["kv"]]) {
  describe(`a forced one-byte refresh of held parts on ${backends.join(" → ")}`, () => {
    const { origin, worker } = withWorker({ config: { backends, client_refresh_interval: 0 } });

    it("merges a one-byte answer of the same representation: the held megabyte still answers every later range", async () => {
      const body = bigFile("m", 2 * MIB);
      origin.on("/video", ranged({ body, etag: '"m1"' }));
      const held = await worker.fetchStored("/video", { headers: { range: `bytes=0-${MIB - 1}` } });
      assert.equal(held.status, 206);
      assert.equal(held.body.length, MIB);
      const hostile = await worker.fetchStored("/video", { headers: { range: "bytes=0-0", "cache-control": "no-cache" } });
      assert.equal(hostile.status, 206);
      assert.equal(hostile.body, body[0]);
      assert.match(hostile.cacheStatus, /fwd=request; fwd-status=206; stored/);
      const asked = origin.count("/video", "GET");
      assert.equal(asked, 2);
      for (const [first, last] of [[500_000, 500_099], [MIB - 100, MIB - 1], [0, MIB - 1], [1, 1]]) {
        const got = await worker.fetch("/video", { headers: { range: `bytes=${first}-${last}` } });
        assert.equal(got.status, 206, `${first}-${last}`);
        assert.ok(got.body === body.slice(first, last + 1), `bytes ${first}-${last} are the file's`);
        assert.match(got.cacheStatus, /; hit;/, `${first}-${last} from the held parts`);
      }
      assert.equal(origin.count("/video", "GET"), asked, "no later range went to the origin");
    });

    it("replaces held parts with a changed representation's, and never mixes their bytes", async () => {
      const state = { body: bigFile("p", MIB + 1000), etag: '"p1"' };
      origin.on("/changed", ranged(state));
      await worker.fetchStored("/changed", { headers: { range: "bytes=0-99999" } });
      state.body = bigFile("q", MIB + 1000);
      state.etag = '"p2"';
      const forced = await worker.fetchStored("/changed", { headers: { range: "bytes=0-0", "cache-control": "no-cache" } });
      assert.equal(forced.body, "q");
      const later = await worker.fetch("/changed", { headers: { range: "bytes=500-599" } });
      assert.ok(later.body === state.body.slice(500, 600), "the new version's bytes");
      assert.equal(later.headers.get("etag"), '"p2"');
      assert.equal(origin.count("/changed", "GET"), 3, "the old version's bytes were not used");
    });
  });
}
