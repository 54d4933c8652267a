// ESI injection (issue 13, class 6): origins that reflect query parameters into ESI pages, as
// real ones do, let anyone add markup to the page a victim is sent. What a fragment's request
// carries comes from configuration alone; one budget of includes covers a whole client
// request; broken markup never takes the rest of the page with it. What is checked is what the
// victim received, what the origin was asked, and what was logged.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { withWorker } from "../support/fixture.mjs";

/** The victim's credentials, every kind an API or a site may use. */
const VICTIM = {
  cookie: "session=victim-secret; theme=dark",
  authorization: "Bearer victim-token",
  "proxy-authorization": "Basic dmljdGltOnB3",
  "x-api-key": "victim-key",
};
const SECRETS = ["victim-secret", "victim-token", "dmljdGltOnB3", "victim-key"];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits for a log line of the worker's (they arrive a little after the response). */
async function logged(worker, predicate, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  while (!worker.logs.some(predicate)) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** Log lines of one kind, parsed. */
const lines = (worker, kind) =>
  worker.logs.filter((l) => l.includes(`"edgecache":"${kind}"`)).map((l) => JSON.parse(l));

const html = (body, cacheControl = "no-store") => ({
  headers: { "content-type": "text/html; charset=utf-8", "cache-control": cacheControl },
  body,
});

/** Every request the origin was asked, with any of the victim's credentials in its headers. */
const leaks = (origin) =>
  origin.requests.filter((r) => SECRETS.some((secret) => JSON.stringify(r.headers).includes(secret)));

/** Reflects `q` unescaped where `in` says: the text, an HTML comment, a script string (only
 * `"` and `\` escaped, as JSON-in-script templates do), or alone before the page's end. */
function reflecting(record) {
  const url = new URL(record.url, "http://origin.test");
  const q = url.searchParams.get("q") ?? "";
  const place = url.searchParams.get("in") ?? "text";
  const reflected = {
    text: `<h1>Results for ${q}</h1>`,
    comment: `<!-- query: ${q} -->`,
    script: `<script>var q = "${q.replace(/["\\]/g, "\\$&")}";</script>`,
    bare: q,
  }[place];
  const page =
    place === "bare"
      ? `${reflected}<p>end</p>`
      : `${reflected}<nav><esi:include src="/fragments/nav"/></nav><p>none</p><esi:remove><a href="/no-esi">plain</a></esi:remove><footer>end</footer>`;
  return html(page);
}

/** The victim's own account: private with their credentials, a login prompt without. */
function account(record) {
  const h = record.headers;
  const credentialed = [h.cookie, h.authorization, h["x-api-key"], h["proxy-authorization"]].some(Boolean);
  return credentialed
    ? html(`PRIVATE account of ${h.cookie ?? h.authorization ?? h["x-api-key"]}`, "private, no-store")
    : html("please log in", "max-age=60");
}

describe("ESI injection", () => {
  const { origin, worker } = withWorker({
    // Default ESI limits: one budget of 15 includes per request, depth 3.
    config: {
      backends: ["memory"],
      routes: [
        { path: "/search", esi: true },
        { path: "/shop/**", esi: true, esi_includes: ["/fragments/**"] },
        { path: "/fragments/user", vary_cookies: ["session"] },
        // The account page keyed per user, so that it may be cached for each of them.
        { path: "/account", vary_cookies: ["session"], vary_headers: ["authorization", "x-api-key"] },
      ],
    },
  });
  before(() => {
    origin.on("/search", reflecting);
    origin.on("/shop/item", reflecting);
    origin.on("/account", account);
    origin.on("/fragments/nav", html("NAV", "max-age=60"));
    origin.on("/fragments/user", (r) => html(`hello ${/session=([\w-]+)/.exec(r.headers.cookie ?? "")?.[1] ?? "stranger"}`, "max-age=60"));
  });

  it("the origin does leak the account page to a request that carries the victim's credentials", async () => {
    // The control: what an injected include must never be able to bring into a page.
    const direct = await worker.fetch("/account", { headers: VICTIM });
    assert.match(direct.body, /^PRIVATE account of session=victim-secret/);
  });

  for (const place of ["text", "comment", "script"]) {
    it(`an include injected into the ${place} gets none of the victim's credentials and no private page`, async () => {
      const before = origin.requests.length;
      // Single quotes: a script string's escaping of `"` does not stop them.
      const injected = `<esi:include src='/account' alt='/account?alt' vary-cookies='session theme' vary-headers='authorization, x-api-key, proxy-authorization, cookie' onerror='continue'/>`;
      const page = await worker.fetch(`/search?in=${place}&q=${encodeURIComponent(injected)}`, { headers: VICTIM });
      assert.equal(page.status, 200);
      assert.doesNotMatch(page.body, /PRIVATE|victim/, "nothing of the victim's account is inlined");
      assert.match(page.body, /please log in/, "the include was processed (ESI is not HTML-aware), anonymously");
      assert.match(page.body, /<nav>NAV<\/nav><p>none<\/p><footer>end<\/footer>$/, "the page's own include and text are intact");
      const asked = origin.requests.slice(before);
      assert.ok(asked.some((r) => r.path === "/search"));
      assert.deepEqual(leaks({ requests: asked.filter((r) => r.path !== "/search") }), [], "no fragment request carried a credential");
      for (const r of asked.filter((r) => r.path !== "/search")) {
        assert.equal(r.headers.cookie, undefined, `${r.url}: no cookie at all`);
      }
      assert.ok(
        await logged(worker, (l) => l.includes('"esi-not-granted"') && l.includes('vary-cookies \\"session\\"') && l.includes('vary-headers \\"authorization\\"')),
        "the names the markup asked for are logged as ignored",
      );
      const notGranted = lines(worker, "esi-not-granted");
      assert.ok(notGranted.every((l) => !SECRETS.some((s) => JSON.stringify(l).includes(s))), "names only, never values");
    });
  }

  it("an injected alt gets nothing either", async () => {
    origin.on("/gone", { status: 404, body: "gone" });
    const before = origin.requests.length;
    const injected = `<esi:include src='/gone' alt='/account' vary-cookies='session' vary-headers='authorization' onerror='continue'/>`;
    const page = await worker.fetch(`/search?in=bare&q=${encodeURIComponent(injected)}`, { headers: VICTIM });
    assert.equal(page.body, "please log in<p>end</p>");
    const asked = origin.requests.slice(before).filter((r) => r.path !== "/search");
    assert.deepEqual(asked.map((r) => r.path), ["/gone"], "the anonymous /account was stored before: only /gone was asked");
    assert.deepEqual(leaks({ requests: asked }), []);
  });

  it("on a route with esi_includes, an include of an unlisted path is refused, however it is spelt", async () => {
    const before = origin.requests.length;
    for (const src of ["/account", "/fragments/../account", "/fragments/%2e%2e/account", "/fragments/..%2faccount", "/fragments/..%5caccount", "/fragments/x;/../../account", "//fragments/account"]) {
      const injected = `<esi:include src='${src}' vary-cookies='session' vary-headers='authorization' onerror='continue'/>`;
      const page = await worker.fetch(`/shop/item?in=script&q=${encodeURIComponent(injected)}`, { headers: VICTIM });
      assert.equal(page.status, 200);
      assert.match(page.body, /^<script>var q = "";<\/script><nav>NAV<\/nav><p>none<\/p><footer>end<\/footer>$/, src);
    }
    const asked = origin.requests.slice(before);
    assert.deepEqual(
      asked.filter((r) => !["/shop/item", "/fragments/nav"].includes(r.path)).map((r) => r.url),
      [],
      "nothing but the page and its own fragment reached the origin",
    );
    assert.ok(await logged(worker, (l) => l.includes('"esi-failed"') && l.includes("not in the esi_includes")));
    assert.ok(await logged(worker, (l) => l.includes('"esi-failed"') && l.includes("could read as another path")));
  });

  it("a listed per-user fragment gets its route's cookie and nothing more, whatever the markup asks", async () => {
    const before = origin.requests.length;
    origin.on("/shop/account", (r) => html(`<esi:include src="/fragments/user" vary-headers="authorization x-api-key" vary-cookies="session theme"/>`));
    const page = await worker.fetch("/shop/account", { headers: VICTIM });
    assert.equal(page.body, "hello victim-secret");
    assert.equal(page.headers.get("cache-control"), "private, no-cache", "the page holds the client's own fragment");
    const fragment = origin.requests.slice(before).filter((r) => r.path === "/fragments/user");
    assert.equal(fragment.length, 1);
    assert.equal(fragment[0].headers.cookie, "session=victim-secret", "the granted cookie alone");
    for (const name of ["authorization", "x-api-key", "proxy-authorization"]) {
      assert.equal(fragment[0].headers[name], undefined, name);
    }
    const other = await worker.fetch("/shop/account", { headers: { cookie: "session=someone-else" } });
    assert.equal(other.body, "hello someone-else", "keyed on the cookie it carries");
    // Markup may narrow what is granted: without `session`, the fragment is anonymous.
    origin.on("/shop/narrow", html(`<esi:include src="/fragments/user" vary-cookies="theme"/>`));
    const narrowed = await worker.fetch("/shop/narrow", { headers: VICTIM });
    assert.equal(narrowed.body, "hello stranger");
  });

  it("an include storm across depths stops at one budget per client request", async () => {
    let served = 0;
    // A fragment that includes 32 more of itself, each unique and unstored: without one
    // budget per request, 2 + 64 + 2,048 origin requests (depth 3), and 33,824 with 32 at
    // every level.
    origin.on("/storm", () => {
      const n = ++served;
      const includes = Array.from({ length: 32 }, (_, i) => `<esi:include src="/storm?id=${n}-${i}" onerror="continue"/>`).join("");
      // Surrogate-Control replaces Cache-Control for edgecache: it says no-store too.
      const headers = { "content-type": "text/html", "cache-control": "no-store", "surrogate-control": 'no-store, content="ESI/1.0"' };
      return { headers, body: `(${includes})` };
    });
    const injected = `<esi:include src="/storm?id=a" onerror="continue"/><esi:include src="/storm?id=b" onerror="continue"/>`;
    const page = await worker.fetch(`/search?in=bare&q=${encodeURIComponent(injected)}`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<p>end<\/p>$/, "the page completes");
    assert.equal(origin.count("/storm"), 15, "esi_max_includes (15) for the whole request, all depths together");
    assert.match(page.headers.get("edgecache-fragments"), /^"\/storm\?id=a"; fwd=miss, "\/storm\?id=b"; fwd=miss$/);

    // The budget is the request's: the next request has one of its own.
    await worker.fetch(`/search?in=bare&q=${encodeURIComponent(injected)}`);
    assert.equal(origin.count("/storm"), 30);
    assert.ok(await logged(worker, (l) => l.includes('"esi-failed"') && l.includes("over esi_max_includes (15) for this request")));
  });

  it("each alt tried costs one include of the budget", async () => {
    origin.on("/missing", { status: 404, body: "no" });
    origin.on("/alt", (r) => html("A"));
    const injected = Array.from({ length: 8 }, (_, i) => `<esi:include src="/missing?i=${i}" alt="/alt?i=${i}" onerror="continue"/>`).join("");
    const page = await worker.fetch(`/search?in=bare&q=${encodeURIComponent(injected)}`);
    assert.equal(origin.count("/missing"), 8);
    assert.equal(origin.count("/alt"), 7, "8 includes + 7 alts = 15");
    assert.equal(page.body, "A".repeat(7) + "<p>end</p>");
  });

  for (const [name, place, injected, body, kind] of [
    ["an unclosed <esi:remove>", "bare", "<esi:remove>", "<esi:remove><p>end</p>", "esi-malformed"],
    [
      "a reflected <esi:remove> before the page's own",
      "text",
      "<esi:remove>",
      "<h1>Results for <esi:remove></h1><nav>NAV</nav><p>none</p><footer>end</footer>",
      "esi-malformed",
    ],
    ["an unclosed <!--esi", "text", "<!--esi ", "<h1>Results for  </h1><nav>NAV</nav><p>none</p><footer>end</footer>", "esi-malformed"],
    [
      "an unclosed <esi:comment",
      "text",
      '<esi:comment text="',
      '<h1>Results for <esi:comment text="</h1><nav>NAV</nav><p>none</p><footer>end</footer>',
      "esi-malformed",
    ],
    [
      "an include with an unclosed quote",
      "text",
      '<esi:include src="/account',
      '<h1>Results for <esi:include src="/account</h1><nav>NAV</nav><p>none</p><footer>end</footer>',
      "esi-malformed",
    ],
    ["an include never closed", "bare", "<esi:include src='/account' ", "<esi:include src='/account' <p>end</p>", "esi-malformed"],
    [
      "a stray </esi:remove>",
      "text",
      "</esi:remove>",
      "<h1>Results for </esi:remove></h1><nav>NAV</nav><p>none</p><footer>end</footer>",
      "esi-malformed",
    ],
    ["an include with a bad attribute", "bare", "<esi:include src=/account />", "<p>end</p>", "esi-failed"],
    ["an include with a repeated attribute", "bare", "<esi:include src='/x' src='/account'/>", "<p>end</p>", "esi-failed"],
  ]) {
    it(`${name} keeps the rest of the page, and is logged`, async () => {
      const before = lines(worker, kind).length;
      const page = await worker.fetch(`/search?in=${place}&q=${encodeURIComponent(injected)}`);
      assert.equal(page.status, 200);
      assert.equal(page.body, body);
      assert.ok(await logged(worker, () => lines(worker, kind).length > before), `an ${kind} line`);
      assert.equal(lines(worker, kind).at(-1).page, "/search");
    });
  }
});

// A template full of markup nobody meant as ESI: user content the origin does not escape (a
// comment thread rendered from Markdown keeps HTML comments), or markup reflected into it.
// Its cost must grow with its length, never with its square, and what it writes about itself
// (log lines, Edgecache-Fragments) must stay a few lines, on every request assembled from it.
describe("a template full of broken markup or includes", () => {
  const { origin, worker } = withWorker({ config: { backends: ["memory"], routes: [{ path: "/thread/**", esi: true }] } });
  const page = (body) => html(`<main>${body}</main><esi:include src="/fragments/nav"/>`, "max-age=60");
  before(() => origin.on("/fragments/nav", html("NAV", "max-age=60")));

  /** The worker's answer, or a failure after `ms`. */
  const within = (ms, pending) =>
    Promise.race([pending, sleep(ms).then(() => assert.fail(`no answer within ${ms} ms`))]);

  it("is assembled in time linear in its length, and logs a few lines for 40,000 broken markers", async () => {
    // 40,000 markers that are never closed (320 KB): each once searched the rest of the page.
    origin.on("/thread/broken", page("<!--esi <esi:remove>".repeat(20_000)));
    const before = worker.logs.length;
    for (const attempt of ["miss", "hit"]) {
      const started = Date.now();
      const got = await within(10_000, worker.fetch("/thread/broken"));
      assert.equal(got.status, 200, attempt);
      assert.ok(got.body.endsWith("</main>NAV"), `${attempt}: the page's own include is there`);
      assert.ok(Date.now() - started < 3000, `${attempt}: answered in ${Date.now() - started} ms`);
    }
    await sleep(200);
    const malformed = worker.logs.slice(before).filter((l) => l.includes('"esi-malformed"'));
    assert.ok(malformed.length <= 2 * 17, `${malformed.length} esi-malformed lines for two requests`);
    assert.ok(malformed.some((l) => JSON.parse(l).more === 40_000 - 16), "the rest are counted in one line");
  });

  it("gets a short Edgecache-Fragments field and a few log lines for 20,000 includes over the budget", async () => {
    origin.on("/thread/includes", html(`<main>${'<esi:include src="/fragments/nav" onerror="continue"/>'.repeat(20_000)}</main>`, "max-age=60"));
    const before = worker.logs.length;
    const got = await within(10_000, worker.fetch("/thread/includes"));
    assert.equal(got.status, 200);
    assert.equal(got.body, `<main>${"NAV".repeat(15)}</main>`, "the budget's 15 includes, the rest left out");
    const field = got.headers.get("edgecache-fragments") ?? "";
    assert.ok(field.length < 4096, `Edgecache-Fragments is ${field.length} bytes`);
    assert.match(field, /detail=esi-limit/);
    await sleep(200);
    const failed = worker.logs.slice(before).filter((l) => l.includes('"esi-failed"'));
    assert.ok(failed.length <= 17, `${failed.length} esi-failed lines`);
  });
});
