// The dashboard refreshes itself: in Chromium against the built worker. Its 10 s default is
// checked on a clock the test moves; the other tests shorten the interval through the page's
// `?refresh=<seconds>` parameter.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startOrigin } from "../support/origin.mjs";
import { startWorker } from "../support/worker.mjs";
import { launchBrowser, parseCount, signIn } from "./harness.mjs";

const TOKEN = "refresh-test-token";
const INTERVAL_S = 0.3;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("dashboard refresh", () => {
  let origin, worker, browser, page;
  /** Every /stats request the page made: when it started and ended (null while under way). */
  let asks = [];

  before(async () => {
    origin = await startOrigin();
    worker = await startWorker({ origin, bindings: { ADMIN_TOKEN: TOKEN }, config: { backends: ["memory"] } });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1200, height: 900 }, locale: "en-US" });
    const isStats = (request) => new URL(request.url()).pathname === "/_edgecache/stats";
    page.on("request", (request) => isStats(request) && asks.push({ request, start: Date.now(), end: null }));
    const ended = (request) => {
      const ask = asks.find((a) => a.request === request);
      if (ask) ask.end = Date.now();
    };
    page.on("requestfinished", ended);
    // The page's own record of its /stats calls, on its monotonic clock (a test instrument).
    await page.addInitScript(() => {
      const fetch = window.fetch;
      window.statsCalls = [];
      window.fetch = function (input, init) {
        const answer = fetch.call(this, input, init);
        if (new URL(String(input), location.href).pathname === "/_edgecache/stats") {
          const call = { called: performance.now(), answered: null };
          window.statsCalls.push(call);
          const answered = () => (call.answered = performance.now());
          answer.then(answered, answered);
        }
        return answer;
      };
    });
    page.on("requestfailed", ended);
  });

  after(async () => {
    await browser?.close();
    await worker?.dispose();
    await origin?.close();
  });

  async function visit(route, times = 1) {
    for (let i = 0; i < times; i++) await (await fetch(new URL(route, worker.url))).text();
  }

  const requestsShown = async () => parseCount(await page.textContent("#cards .card:first-child b"));

  it("refreshes every 10 s unless told otherwise: not at 9.5 s, once by 10.5 s, again 10 s after that one ended", async () => {
    // Its own page, on a clock that stands still until the test moves it (timers and Date; the
    // requests stay real).
    const clocked = await browser.newPage({ locale: "en-US" });
    const t0 = Date.now();
    await clocked.clock.install({ time: t0 });
    await clocked.clock.pauseAt(t0 + 1000);
    const seen = [];
    clocked.on("request", (request) => new URL(request.url()).pathname === "/_edgecache/stats" && seen.push(request));
    const status = () => clocked.textContent("#refresh-status");
    try {
      await signIn(clocked, worker, TOKEN);
      const first = await status();
      assert.match(first, /^Auto-refresh every 10 s; updated \d/);
      assert.equal(seen.length, 1, "signing in read the stats once");
      // Moves the page's clock, then counts the /stats requests once those expected have been
      // heard of (and a little longer, for any more).
      const asksAfter = async (ms, expected) => {
        await clocked.clock.runFor(ms);
        const deadline = Date.now() + 5000;
        while (seen.length < expected && Date.now() < deadline) await sleep(50);
        await sleep(300);
        return seen.length;
      };
      assert.equal(await asksAfter(9500, 1), 1, "no refresh before 10 s");
      const shown = parseCount(await clocked.textContent("#cards .card:first-child b"));
      await visit("/ten", 2);
      assert.equal(await asksAfter(1000, 2), 2, "one refresh at 10 s");
      await clocked.waitForFunction((n) => document.querySelector("#cards .card:first-child b").textContent === String(n), shown + 2, { timeout: 10000 });
      // The refresh has ended (its /purges too) once the status names its time.
      await clocked.waitForFunction((old) => document.querySelector("#refresh-status").textContent !== old, first, { timeout: 10000 });
      assert.equal(await asksAfter(9500, 2), 2, "the next one 10 s after the last ended, not sooner");
      assert.equal(await asksAfter(1000, 3), 3, "and then one more");
    } finally {
      await clocked.close();
    }
  });

  it("asks again after the interval and shows the new numbers without a reload", async () => {
    await signIn(page, worker, TOKEN, `?refresh=${INTERVAL_S}`);
    assert.match(await page.textContent("#refresh-status"), /^Auto-refresh every 0\.3 s; updated \d/);
    const shown = await requestsShown();
    const asked = asks.length;
    await visit("/a", 3);
    await page.waitForFunction((n) => document.querySelector("#cards .card:first-child b").textContent === String(n), shown + 3, { timeout: 10000 });
    assert.ok(asks.length > asked, "the page asked for the stats again");
    // Timed inside the page (when fetch was called, when its answer came), not by when the test
    // hears of a request, which a loaded machine can delay. A refresh ends after its answer
    // came (it reads the body and /purges too), so each gap is at least the interval.
    const timed = await page.evaluate(() => window.statsCalls);
    assert.ok(timed.length >= 2 && timed.every((t) => t.answered != null), JSON.stringify(timed));
    const gaps = timed.slice(1).map((t, i) => t.called - timed[i].answered);
    assert.ok(gaps.every((gap) => gap >= INTERVAL_S * 1000), `an interval between the end of one ask and the next: ${gaps.map(Math.round)}`);
  });

  it("stops asking when paused, and asks at once when resumed", async () => {
    await page.click("#refresh-toggle");
    assert.equal(await page.textContent("#refresh-toggle"), "Resume auto-refresh");
    assert.match(await page.textContent("#refresh-status"), /^Auto-refresh paused; updated /);
    await sleep(200); // an ask already under way may end
    const asked = asks.length;
    const shown = await requestsShown();
    await visit("/b", 2);
    await sleep(INTERVAL_S * 1000 * 5);
    assert.equal(asks.length, asked, "no ask while paused");
    assert.equal(await requestsShown(), shown, "the numbers stay as they were");
    await page.click("#refresh-toggle");
    assert.equal(await page.textContent("#refresh-toggle"), "Pause auto-refresh");
    await page.waitForFunction((n) => document.querySelector("#cards .card:first-child b").textContent === String(n), shown + 2, { timeout: 10000 });
    assert.ok(asks.length > asked);
  });

  it("never has two asks under way, however slow the worker answers", async () => {
    const slowMs = 1000;
    await page.route("**/_edgecache/stats", async (route) => {
      await sleep(slowMs);
      await route.continue();
    });
    const from = asks.length;
    await sleep(slowMs * 3.5);
    const slow = asks.slice(from);
    await page.unrouteAll({ behavior: "wait" }); // the delayed asks still end
    const deadline = Date.now() + 10000;
    while (slow.some((a) => a.end == null) && Date.now() < deadline) await sleep(50);
    assert.ok(slow.length >= 2, `it kept refreshing: ${slow.length} asks`);
    for (let i = 1; i < slow.length; i++) {
      assert.ok(slow[i].start >= slow[i - 1].end, `ask ${i} started after ask ${i - 1} ended`);
    }
    // With a 0.3 s interval and no such care, 3.5 s of 1 s answers would have had ~4 under way at once.
    assert.ok(slow.length <= 4, `one at a time: ${slow.length} asks in ${slowMs * 3.5} ms`);
  });

  it("waits while the tab is hidden", async () => {
    await page.evaluate(() => {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    await sleep(200);
    const asked = asks.length;
    await sleep(INTERVAL_S * 1000 * 5);
    assert.equal(asks.length, asked, "no ask while hidden");
    assert.match(await page.textContent("#refresh-status"), /waits for this tab/);
    await page.evaluate(() => {
      delete document.hidden;
      document.dispatchEvent(new Event("visibilitychange"));
    });
    const deadline = Date.now() + 5000;
    while (asks.length === asked && Date.now() < deadline) await sleep(50);
    assert.ok(asks.length > asked, "asks again once visible");
  });

  it("stops refreshing when the token is refused, and says why", async () => {
    await page.evaluate(() => sessionStorage.setItem("edgecache-token", "revoked-token"));
    await page.waitForSelector("#message:not([hidden])", { timeout: 10000 });
    assert.equal(await page.textContent("#message"), "The token was refused (401 Unauthorized). Automatic refresh stopped. Check ADMIN_TOKEN and sign in again.");
    assert.ok(await page.isVisible("#login"));
    assert.ok(await page.isHidden("#app"));
    assert.ok(await page.isHidden("#refresh"));
    const asked = asks.length;
    await sleep(INTERVAL_S * 1000 * 5);
    assert.equal(asks.length, asked, "no ask after the 401");
  });
});
