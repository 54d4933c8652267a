// The dashboard in a real browser (Debian's Chromium, driven by playwright-core), against the
// built worker on workerd and a recording origin: stats, the chart, the reasons, the hosts,
// purging and inspecting. Screenshots go to test-results/.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startOrigin } from "../support/origin.mjs";
import { startWorker } from "../support/worker.mjs";
import { adminApi, launchBrowser, parseCount, requestsOf, shareText, shots } from "./harness.mjs";

const TOKEN = "dashboard-test-token";

describe("dashboard", () => {
  let origin, worker, browser, page;
  /** Every address the page asked for, and every error it logged. */
  const requested = [];
  const consoleErrors = [];

  before(async () => {
    origin = await startOrigin();
    origin.on("/page", (record, n) => ({ headers: { "cache-control": "max-age=600", "content-type": "text/plain" }, body: `page #${n}` }));
    origin.on("/product", (record, n) => ({ headers: { "cache-control": "max-age=600", "cache-tag": "product" }, body: `product #${n}` }));
    origin.on("/account", { headers: { "cache-control": "private, max-age=60" }, body: "yours" });
    origin.on("/cookie", { headers: { "cache-control": "max-age=60", "set-cookie": "session=1" }, body: "a cookie" });
    worker = await startWorker({
      origin,
      bindings: { ADMIN_TOKEN: TOKEN },
      config: {
        backends: ["memory", "cache"],
        routes: [
          { path: "/static/**", ttl: 86400, tags: ["static"] },
          { path: "/api/**", bypass: true },
        ],
      },
    });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1200, height: 1400 }, locale: "en-US" });
    page.on("dialog", (dialog) => dialog.accept());
    page.on("request", (request) => requested.push(request.url()));
    page.on("console", (message) => message.type() === "error" && consoleErrors.push(message.text()));
  });

  after(async () => {
    await browser?.close();
    await worker?.dispose();
    await origin?.close();
  });

  /** A request through the worker's real HTTP address, as a visitor would make it. */
  async function visit(route) {
    const response = await fetch(new URL(route, worker.url));
    await response.text();
    return response.headers.get("cache-status");
  }

  async function settleStored(route) {
    for (let i = 0; i < 100; i++) {
      if ((await visit(route)).includes("; hit;")) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`${route} was never stored`);
  }

  it("explains a refused token", async () => {
    await page.goto(new URL("/_edgecache/", worker.url).href);
    assert.ok(await page.isVisible("#login"));
    await page.fill("#token", "wrong-token");
    await page.click("#login-form button");
    await page.waitForSelector("#message:not([hidden])");
    assert.match(await page.textContent("#message"), /token was refused \(401 Unauthorized\)/);
    assert.ok(await page.isHidden("#app"));
    await page.screenshot({ path: path.join(shots, "dashboard-401.png") });
  });

  it("shows stats, the hit-ratio chart, the routes and the hosts once signed in", async () => {
    await visit("/page");
    await settleStored("/page");
    await visit("/page");
    await visit("/account");
    await page.fill("#token", TOKEN);
    await page.click("#login-form button");
    await page.waitForSelector("#app:not([hidden])");
    const cards = await page.textContent("#cards");
    assert.match(cards, /Hit ratio/);
    assert.match(cards, /Hits/);
    assert.equal(await page.locator("#chart svg rect").count() >= 1, true, "a bar for this minute");
    const routes = await page.textContent("#routes");
    assert.match(routes, /\/static\/\*\*/);
    assert.match(routes, /ttl 86400s/);
    assert.match(routes, /private 1/, "why a response was not stored");
    const hosts = await page.textContent("#hosts");
    assert.match(hosts, /127\.0\.0\.1/);
    assert.match(hosts, /private 1/);
    assert.equal(await page.getAttribute("#window-hour", "aria-pressed"), "true");
    await page.screenshot({ path: path.join(shots, "dashboard.png"), fullPage: true });
  });

  it("switches between the last hour and the last 24 hours", async () => {
    await page.click("#window-day");
    assert.equal(await page.getAttribute("#window-day", "aria-pressed"), "true");
    assert.match(await page.textContent("#chart-caption"), /last 24 hours/);
    assert.ok((await page.locator("#chart svg rect").count()) >= 1, "a bar for this half hour");
    assert.match(await page.textContent("#hosts"), /127\.0\.0\.1/);
    await page.screenshot({ path: path.join(shots, "dashboard-day.png"), fullPage: true });
    await page.click("#window-hour");
    assert.match(await page.textContent("#chart-caption"), /last hour/);
  });

  /** Reads the page again (it signs in with the token kept in the tab) once it is shown. */
  async function reload() {
    await page.reload();
    await page.waitForSelector("#app:not([hidden])");
  }

  it("draws requests as bars on a left axis and the hit ratio as a line on a right axis, with labels and units", async () => {
    for (let i = 0; i < 4; i++) await visit("/page");
    await visit("/account");
    await reload();
    assert.equal(await page.textContent("#chart .axis-title-left"), "Requests per minute");
    assert.equal(await page.textContent("#chart .axis-title-right"), "Hit ratio (%)");
    assert.match(await page.textContent("#chart .axis-title-bottom"), /^Time/);
    const ticks = (side) =>
      page.$$eval(`#chart .ticks-${side} text`, (texts) => texts.map((t) => ({ label: t.textContent, y: Number(t.getAttribute("y")), x: Number(t.getAttribute("x")) })));
    const left = await ticks("left");
    const right = await ticks("right");
    const bottom = await ticks("bottom");
    assert.deepEqual(right.map((t) => t.label), ["0%", "25%", "50%", "75%", "100%"]);
    assert.ok(left.length >= 2 && left[0].label === "0", "the left axis starts at 0");
    const values = left.map((t) => Number(t.label));
    assert.ok(values.every((v, i) => i === 0 || v > values[i - 1]), `ascending: ${values}`);
    assert.ok(bottom.length >= 5, `time labels along the bottom: ${bottom.map((t) => t.label)}`);
    assert.ok(bottom.every((t) => /^\d{1,2}:\d{2}( [AP]M)?$/.test(t.label)), `${bottom.map((t) => t.label)}`);
    assert.ok(bottom.every((t, i) => i === 0 || t.x > bottom[i - 1].x), "times from left to right");
    assert.ok(left.every((t, i) => i === 0 || t.y < left[i - 1].y), "counts grow upwards");
    assert.ok(right.every((t, i) => i === 0 || t.y < right[i - 1].y), "ratios grow upwards");
    assert.ok(Math.abs(left[0].y - right[0].y) < 0.5, "both axes start from the same baseline");

    // The newest bar stands as high as its count on the left axis; its dot as its ratio on the right.
    const axisY = (ticksOf, value) => {
      const [zero, top] = [ticksOf[0], ticksOf[ticksOf.length - 1]];
      const topValue = parseFloat(top.label);
      return zero.y - 4 - (value / topValue) * (zero.y - top.y);
    };
    const bar = await page.$$eval("#chart rect.bar", (bars) => {
      const last = bars[bars.length - 1];
      return { y: Number(last.getAttribute("y")), title: last.querySelector("title").textContent };
    });
    const requests = Number(/: ([\d,]+) requests/.exec(bar.title)[1].replace(/,/g, ""));
    assert.ok(requests >= 1, bar.title);
    assert.ok(Math.abs(bar.y - axisY(left, requests)) < 0.5, `bar top ${bar.y} for ${requests} requests`);
    const dot = await page.$$eval("#chart circle.ratio-dot", (dots) => {
      const last = dots[dots.length - 1];
      return { cy: Number(last.getAttribute("cy")), title: last.querySelector("title").textContent };
    });
    const ratio = Number(/hit ratio ([\d.]+)%/.exec(dot.title)[1]);
    assert.ok(ratio >= 0 && ratio <= 100, dot.title);
    assert.ok(Math.abs(dot.cy - axisY(right, ratio)) < 0.5, `dot at ${dot.cy} for ${ratio}%`);
    assert.ok((await page.getAttribute("#chart path.ratio-line", "d")).startsWith("M"));

    // The figures behind the chart add up to the window's requests.
    const rows = await page.$$eval("#chart-table tbody tr", (trs) => trs.map((tr) => tr.cells[1].textContent));
    const charted = rows.reduce((sum, n) => sum + parseCount(n), 0);
    const stats = await adminApi(worker, TOKEN, "/stats");
    assert.equal(charted, requestsOf(stats.hour.total));
    assert.equal(parseCount(await page.textContent("#cards .card:first-child b")), requestsOf(stats.hour.total));

    await page.click("#window-day");
    assert.equal(await page.textContent("#chart .axis-title-left"), "Requests per 30 minutes");
    assert.equal(await page.textContent("#legend-bars"), "Requests per 30 minutes");
    await page.click("#window-hour");
  });

  it("breaks the requests down by why they were not stored, with counts and shares", async () => {
    for (let i = 0; i < 3; i++) await visit("/account"); // private
    for (let i = 0; i < 2; i++) await visit("/cookie"); // set-cookie
    await visit("/api/orders"); // route-bypass
    await (await fetch(new URL("/form", worker.url), { method: "POST", body: "{}" })).text(); // method
    await reload();
    const stats = await adminApi(worker, TOKEN, "/stats");
    const t = stats.hour.total;
    const total = requestsOf(t);
    const toOrigin = t.misses + t.bypasses;
    const rows = await page.$$eval("#reasons tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));
    const byReason = new Map(rows.map((r) => [r[0], r]));
    for (const [reason, atLeast] of [["private", 3], ["set-cookie", 2], ["route-bypass", 1], ["method", 1]]) {
      const row = byReason.get(reason);
      assert.ok(row, `a row for ${reason}: ${JSON.stringify(rows)}`);
      const n = t.reasons[reason];
      assert.ok(n >= atLeast, `${reason}: ${n}`);
      assert.equal(parseCount(row[2]), n, `${reason}'s count`);
      assert.equal(row[3], shareText(n, total), `${reason}'s share of all requests`);
      assert.equal(row[4], shareText(n, toOrigin), `${reason}'s share of those sent to the origin`);
    }
    assert.match(byReason.get("private")[1], /^Not stored: .*private/);
    assert.match(byReason.get("route-bypass")[1], /^Not looked up: /);
    // Most frequent first; what no reason explains is the ordinary, stored misses, last.
    const counts = rows.filter((r) => r[0] !== "(none)").map((r) => parseCount(r[2]));
    assert.deepEqual(counts, [...counts].sort((a, b) => b - a));
    const explained = Object.values(t.reasons).reduce((a, b) => a + b, 0);
    assert.equal(rows.at(-1)[0], "(none)");
    assert.equal(parseCount(rows.at(-1)[2]), toOrigin - explained);
    assert.equal(rows.length, Object.keys(t.reasons).length + 1, "every reason, and the rest");
    const summary = await page.textContent("#reasons-summary");
    assert.ok(summary.startsWith(`${toOrigin} of ${total} requests (${shareText(toOrigin, total)}) went to the origin: ${t.misses} misses, ${t.bypasses} bypasses.`), summary);
    await page.screenshot({ path: path.join(shots, "dashboard-reasons.png"), fullPage: true });
  });

  it("lists the hosts by requests, with their shares and their reasons", async () => {
    for (let i = 0; i < 6; i++) await worker.fetch("http://shop.example.test/page");
    for (let i = 0; i < 2; i++) await worker.fetch("http://blog.example.test/account");
    await reload();
    const stats = await adminApi(worker, TOKEN, "/stats");
    const total = requestsOf(stats.hour.total);
    const rows = await page.$$eval("#hosts tbody tr", (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));
    assert.deepEqual(rows.map((r) => r[0]).sort(), Object.keys(stats.hour.hosts).sort());
    const requests = rows.map((r) => parseCount(r[1]));
    assert.deepEqual(requests, [...requests].sort((a, b) => b - a), "busiest host first");
    for (const row of rows) {
      const c = stats.hour.hosts[row[0]];
      assert.equal(parseCount(row[1]), requestsOf(c), `${row[0]}'s requests`);
      assert.equal(row[2], shareText(requestsOf(c), total), `${row[0]}'s share`);
      assert.deepEqual(row.slice(3, 7).map(parseCount), [c.hits, c.stale, c.misses, c.bypasses]);
      assert.equal(row[7], c.hits + c.stale + c.misses ? shareText(c.hits + c.stale, c.hits + c.stale + c.misses) : "–", `${row[0]}'s hit ratio`);
    }
    const shop = rows.find((r) => r[0] === "shop.example.test");
    assert.equal(parseCount(shop[1]), 6);
    const blog = rows.find((r) => r[0] === "blog.example.test");
    assert.equal(blog[8], "private 2 (100.0%)");
    assert.equal(requests.reduce((a, b) => a + b, 0), total, "the hosts add up to every request");
  });

  /**
   * Fills the purge form (one target a line in each field unless given as one string), sends
   * it and waits for the answer to be shown.
   */
  async function purgeWithForm({ urls = "", prefixes = "", tags = "", all = false, soft = false }) {
    const join = (v) => (Array.isArray(v) ? v.join("\n") : v);
    await page.fill("#purge-urls", join(urls));
    await page.fill("#purge-prefixes", join(prefixes));
    await page.fill("#purge-tags", join(tags));
    await page.setChecked("#purge-all", all);
    await page.setChecked("#purge-soft", soft);
    const before = await page.textContent("#purge-result");
    await page.click("#purge-submit");
    await page.waitForFunction((old) => document.querySelector("#purge-result").textContent !== old && !document.querySelector("#purge-submit").disabled, before);
    return page.textContent("#purge-result");
  }

  /** The per-target results table: [kind, target, effect] rows. */
  async function purgeResults() {
    return page.$$eval("#purge-results tbody tr", (rows) => rows.map((tr) => [...tr.cells].map((td) => td.textContent)));
  }

  it("purges a URL, and the next request is a miss", async () => {
    assert.match(await visit("/page"), /; hit;/);
    const summary = await purgeWithForm({ urls: new URL("/page", worker.url).href });
    assert.match(summary, /^Purge #\d+ done: 1 target\./);
    assert.deepEqual(await purgeResults(), [["url", new URL("/page", worker.url).href, "purged"]]);
    assert.match(await visit("/page"), /fwd=miss/);
  });

  it("purges a tag and the log grows", async () => {
    await visit("/product");
    await settleStored("/product");
    const before = await page.locator("#log tbody tr").count();
    await purgeWithForm({ tags: "product" });
    assert.match(await page.getAttribute("#purge-result", "class"), /\bok\b/);
    assert.match(await visit("/product"), /fwd=miss/);
    // The page reads the log again right after a purge.
    await page.waitForFunction((n) => document.querySelectorAll("#log tbody tr").length > n, before);
    assert.match(await page.textContent("#log"), /tag product/);
  });

  it("purges many URLs, prefixes and tags at once, and what they name is a miss afterwards", async () => {
    const url = (route) => new URL(route, worker.url).href;
    const purged = ["/page", "/page-two", "/static/a.css", "/static/b.css", "/product"];
    for (const route of [...purged, "/kept"]) {
      await visit(route);
      await settleStored(route);
    }
    const summary = await purgeWithForm({
      // Two URLs on one line, separated by a comma; a blank line; prefixes and tags likewise.
      urls: `${url("/page")}, ${url("/page-two")}\n\n`,
      prefixes: "/static/",
      tags: "product,unused-tag",
    });
    assert.match(summary, /^Purge #\d+ done: 5 targets\./);
    assert.deepEqual(await purgeResults(), [
      ["url", url("/page"), "purged"],
      ["url", url("/page-two"), "purged"],
      ["prefix", "/static/", "purged"],
      ["tag", "product", "purged"],
      ["tag", "unused-tag", "purged"],
    ]);
    // The API recorded the one purge with every target the form was given.
    const { purges } = await adminApi(worker, TOKEN, "/purges");
    const newest = purges.reduce((a, b) => (b.seq > a.seq ? b : a));
    assert.equal(summary, `Purge #${newest.seq} done: 5 targets. ${summary.slice(summary.indexOf(" In effect") + 1)}`);
    assert.deepEqual(newest.urls, [url("/page"), url("/page-two")]);
    assert.deepEqual(newest.prefixes, ["/static/"]);
    assert.deepEqual(newest.tags, ["product", "unused-tag"]);
    assert.equal(newest.all, false);
    for (const route of purged) assert.match(await visit(route), /fwd=miss/, `${route} is purged`);
    assert.match(await visit("/kept"), /; hit;/, "a URL no target names is kept");
    await page.screenshot({ path: path.join(shots, "dashboard-purge.png"), fullPage: true });
  });

  it("names every invalid target and sends nothing", async () => {
    await visit("/kept");
    await settleStored("/kept");
    const posts = [];
    const listen = (request) => request.method() === "POST" && posts.push(request.url());
    page.on("request", listen);
    const summary = await purgeWithForm({ urls: ["/kept", new URL("/kept", worker.url).href], tags: ["fine", "not fine"] });
    page.off("request", listen);
    assert.equal(summary, "Nothing was purged: 2 targets are not valid.");
    const errors = await page.$$eval("#purge-errors li", (items) => items.map((li) => li.textContent));
    assert.equal(errors.length, 2);
    assert.match(errors[0], /^URLs: “\/kept”: not an absolute URL/);
    assert.match(errors[1], /^Tags: “not fine”: a tag is printable ASCII without spaces or commas/);
    assert.equal(await page.getAttribute("#purge-urls", "aria-invalid"), "true");
    assert.equal(await page.getAttribute("#purge-tags", "aria-invalid"), "true");
    assert.equal(await page.getAttribute("#purge-prefixes", "aria-invalid"), "false");
    assert.deepEqual(posts, [], "no purge was sent");
    assert.match(await visit("/kept"), /; hit;/, "the valid URL beside them was not purged either");
  });

  it("shows the API's error when it refuses a purge", async () => {
    const urls = Array.from({ length: 101 }, (_, i) => new URL(`/many/${i}`, worker.url).href);
    const summary = await purgeWithForm({ urls });
    assert.equal(summary, "Purge failed, nothing was purged: urls: at most 100 items per request");
    assert.match(await page.getAttribute("#purge-result", "class"), /\bbad\b/);
    assert.ok(await page.isHidden("#purge-results"));
  });

  it("soft-purges: the entry is served stale once more", async () => {
    await visit("/product");
    await settleStored("/product");
    const summary = await purgeWithForm({ tags: "product", soft: true });
    assert.match(summary, /done: 1 target, soft\./);
    assert.deepEqual(await purgeResults(), [["tag", "product", "stale (soft: served once more while refreshing)"]]);
    assert.match(await visit("/product"), /; hit;.*detail=soft-purged/);
    await page.waitForFunction(() => /tag product\s*soft/.test(document.querySelector("#log tbody").textContent));
  });

  it("inspects a key", async () => {
    await visit("/page");
    await settleStored("/page");
    await page.fill("#inspect-url", new URL("/page", worker.url).href);
    await page.click("#inspect-form button");
    await page.waitForSelector("#inspect-result table");
    const text = await page.textContent("#inspect-result");
    assert.match(text, /Key: :1:http:\/\/127\.0\.0\.1:\d+\/page/);
    assert.match(text, /memory\s*yes/);
    await page.screenshot({ path: path.join(shots, "dashboard-inspect.png"), fullPage: true });
  });

  it("loads nothing from elsewhere and breaks none of its content security policy", async () => {
    assert.ok(requested.length > 20, `the page made requests: ${requested.length}`);
    const elsewhere = requested.filter((u) => !u.startsWith("data:") && new URL(u).origin !== new URL(worker.url).origin);
    assert.deepEqual(elsewhere, []);
    // The refused token (401) and the refused 101-URL purge (400) are provoked above.
    const errors = consoleErrors.filter((text) => !/^Failed to load resource: the server responded with a status of 40[01] /.test(text));
    assert.deepEqual(errors, [], "no console errors (a blocked inline style or script would log one)");
  });
});
