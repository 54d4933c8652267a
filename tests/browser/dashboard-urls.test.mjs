// The dashboard's "why, per URL" panels (issue 26): the most requested URLs, the most misses,
// the URLs not stored with their reasons, the status codes, the ESI fragments, and the hit ratio of what could be
// stored beside the uncacheable share; in both colour schemes and at a phone's width.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startOrigin } from "../support/origin.mjs";
import { startWorker } from "../support/worker.mjs";
import { adminApi, launchBrowser, parseCount, shots, signIn } from "./harness.mjs";

const TOKEN = "urls-test-token";

/** WCAG 2 contrast of two computed `rgb(…)` colours. */
function contrast(a, b) {
  const lum = (color) => {
    const [r, g, b] = color.match(/[\d.]+/g).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [l1, l2] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (l1 + 0.05) / (l2 + 0.05);
}

/** The rows of a table: each a list of its cells' text. */
const rows = (page, id) => page.$$eval(`#${id} tbody tr`, (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent.trim())));

describe("dashboard: why, per URL", () => {
  let origin, worker, browser;

  before(async () => {
    origin = await startOrigin();
    origin.on("/page", { headers: { "cache-control": "max-age=600" }, body: "shared" });
    origin.on("/account", { headers: { "cache-control": "private" }, body: "yours" });
    origin.on("/missing", { status: 404, headers: { "cache-control": "no-store" }, body: "no" });
    origin.on("/pages/home", { headers: { "content-type": "text/html", "cache-control": "max-age=60" }, body: '<esi:include src="/frag/nav"/> home' });
    origin.on("/frag/nav", { headers: { "content-type": "text/html", "cache-control": "max-age=60" }, body: "nav" });
    worker = await startWorker({
      origin,
      bindings: { ADMIN_TOKEN: TOKEN },
      config: { backends: ["memory"], routes: [{ path: "/api/**", bypass: true }, { path: "/pages/**", esi: true, esi_includes: ["/frag/**"] }] },
    });
    const visit = async (route) => (await fetch(new URL(route, worker.url))).text();
    for (const route of ["/page?session=abc", "/page?session=abc", "/page?session=abc", "/page?session=abc", "/account", "/account", "/api/now", "/missing", "/pages/home", "/pages/home"]) {
      await visit(route);
      await new Promise((r) => setTimeout(r, 30));
    }
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await worker?.dispose();
    await origin?.close();
  });

  it("lists the top URLs, misses, URLs not stored with why, and status codes, as /stats counts them", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1400 }, locale: "en-US" });
    await signIn(page, worker, TOKEN);
    const stats = await adminApi(worker, TOKEN, "/stats");
    const top = await rows(page, "urls");
    const host = new URL(worker.url).hostname;
    const pageUrl = `${host}/page?session=*`;
    assert.equal(top[0][0], pageUrl, "the most requested first, its query value hidden");
    assert.equal(parseCount(top[0][1]), 4);
    assert.ok(!(await page.textContent("#urls")).includes("abc"), "no query value on the page");
    const unstored = await rows(page, "unstored-urls");
    const account = unstored.find((r) => r[0] === `${host}/account`);
    assert.ok(account, JSON.stringify(unstored));
    assert.equal(parseCount(account[1]), 2);
    assert.match(account[4], /private/i);
    assert.ok(unstored.find((r) => r[0] === `${host}/api/now`), "a bypassed URL is listed");
    assert.ok(!unstored.find((r) => r[0] === pageUrl), "a stored URL is not");
    const misses = await rows(page, "miss-urls");
    assert.equal(misses.length, Object.keys(stats.hour.miss_urls).length);
    const statuses = await rows(page, "statuses");
    assert.deepEqual(statuses.map((r) => r[0]).sort(), Object.keys(stats.hour.statuses).sort());
    assert.equal(parseCount(statuses.find((r) => r[0] === "404")[1]), 1);
    const fragments = await rows(page, "fragments");
    assert.deepEqual(fragments.map((r) => [r[0], parseCount(r[1])]), [[`${host}/frag/nav`, 2]], "the fragment, once per page");
    const cards = await page.textContent("#cards");
    const t = stats.hour.total;
    assert.match(cards, new RegExp(`${stats.hour.backends.memory.hits}Hits from memory`), "each tier's hits");
    assert.match(cards, /Memory tier.*of \d+(\.\d)? MiB \(this isolate\)/, "the memory tier's fill");
    assert.match(cards, new RegExp(`${(t.storable_hit_ratio * 100).toFixed(1)}%Hit ratio of what could be stored`));
    assert.match(cards, new RegExp(`${(t.uncacheable_share * 100).toFixed(1)}% of requests could not be stored`));
    await page.close();
  });

  for (const scheme of ["light", "dark"]) {
    it(`is readable in the ${scheme} scheme and at a phone's width`, async () => {
      const page = await browser.newPage({ viewport: { width: 375, height: 812 }, colorScheme: scheme, locale: "en-US", isMobile: true, hasTouch: true });
      await signIn(page, worker, TOKEN);
      const seen = await page.evaluate(() => {
        const style = (el) => getComputedStyle(el);
        const section = document.getElementById("urls-title").closest("section");
        const cells = [...section.querySelectorAll("td, th, h3")].filter((el) => el.textContent.trim());
        return {
          surface: style(section).backgroundColor,
          colours: cells.map((el) => style(el).color),
          pageWidth: document.documentElement.scrollWidth,
          viewport: window.innerWidth,
          sectionRight: section.getBoundingClientRect().right,
          header: document.querySelector("header").getBoundingClientRect().right,
        };
      });
      for (const colour of new Set(seen.colours)) {
        assert.ok(contrast(colour, seen.surface) >= 4.5, `${scheme}: ${colour} on ${seen.surface} is ${contrast(colour, seen.surface).toFixed(2)}:1`);
      }
      assert.ok(seen.pageWidth <= seen.viewport, `${scheme}: the page is ${seen.pageWidth}px wide at ${seen.viewport}px`);
      assert.ok(seen.sectionRight <= seen.viewport, "the URLs panel fits the screen");
      assert.ok(seen.header <= seen.viewport, "the header fits the screen");
      await page.locator("#urls-title").scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(shots, `dashboard-urls-phone-${scheme}.png`), fullPage: true });
      await page.close();
    });
  }
});
