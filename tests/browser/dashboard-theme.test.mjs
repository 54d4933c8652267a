// The dashboard follows prefers-color-scheme and is readable in both schemes (contrast measured
// on the computed colours), and its controls are labelled and work from the keyboard.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startOrigin } from "../support/origin.mjs";
import { startWorker } from "../support/worker.mjs";
import { launchBrowser, shots, signIn } from "./harness.mjs";

const TOKEN = "theme-test-token";

/** WCAG 2 relative luminance of a computed `rgb(r, g, b)` colour. */
function luminance(color) {
  const [r, g, b] = color.match(/[\d.]+/g).slice(0, 3).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a, b) {
  const [l1, l2] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (l1 + 0.05) / (l2 + 0.05);
}

describe("dashboard colours and access", () => {
  let origin, worker, browser;

  before(async () => {
    origin = await startOrigin();
    worker = await startWorker({ origin, bindings: { ADMIN_TOKEN: TOKEN }, config: { backends: ["memory"] } });
    for (const route of ["/a", "/a", "/a", "/b"]) await (await fetch(new URL(route, worker.url))).text();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await worker?.dispose();
    await origin?.close();
  });

  /** The computed colours that matter for reading the page. */
  function colours(page) {
    return page.evaluate(() => {
      const style = (selector, pseudo) => getComputedStyle(document.querySelector(selector), pseudo);
      return {
        scheme: style(":root").colorScheme,
        page: style("body").backgroundColor,
        text: style("body").color,
        surface: style("section").backgroundColor,
        muted: style("figcaption").color,
        tick: style("#chart .ticks-left text").fill,
        axisTitle: style("#chart .axis-title-left").fill,
        bar: style("#chart rect.bar").fill,
        ratio: style("#chart path.ratio-line").stroke,
        inputBackground: style("#purge-urls").backgroundColor,
        inputText: style("#purge-urls").color,
        inputBorder: style("#purge-urls").borderTopColor,
        button: style("#purge-submit").backgroundColor,
        buttonText: style("#purge-submit").color,
      };
    });
  }

  /** What must hold in either scheme: text at least 4.5:1 (body text 7:1), graphics 3:1. */
  function assertReadable(c, scheme) {
    const at = (a, b, min, what) => assert.ok(contrast(a, b) >= min, `${scheme}: ${what} ${a} on ${b} is ${contrast(a, b).toFixed(2)}:1, under ${min}:1`);
    at(c.text, c.surface, 7, "text");
    at(c.text, c.page, 7, "text on the page");
    at(c.muted, c.surface, 4.5, "muted text");
    at(c.tick, c.surface, 4.5, "axis labels");
    at(c.axisTitle, c.surface, 4.5, "axis titles");
    at(c.bar, c.surface, 3, "bars");
    at(c.ratio, c.surface, 3, "the hit-ratio line");
    at(c.inputText, c.inputBackground, 7, "typed text");
    at(c.inputBorder, c.inputBackground, 3, "input borders");
    at(c.buttonText, c.button, 4.5, "button labels");
  }

  it("is dark under prefers-color-scheme: dark, light otherwise, and readable in both", async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1400 }, colorScheme: "dark", locale: "en-US" });
    await signIn(page, worker, TOKEN);
    const dark = await colours(page);
    assert.equal(dark.scheme, "light dark");
    assert.ok(luminance(dark.page) < 0.03, `a dark page: ${dark.page}`);
    assert.ok(luminance(dark.surface) < 0.03, `dark panels: ${dark.surface}`);
    assert.ok(luminance(dark.text) > 0.7, `light text: ${dark.text}`);
    assert.ok(luminance(dark.inputBackground) < 0.03, `dark inputs: ${dark.inputBackground}`);
    assertReadable(dark, "dark");
    await page.screenshot({ path: path.join(shots, "dashboard-dark.png"), fullPage: true });

    await page.emulateMedia({ colorScheme: "light" });
    const light = await colours(page);
    assert.ok(luminance(light.page) > 0.85, `a light page: ${light.page}`);
    assert.ok(luminance(light.surface) > 0.85, `light panels: ${light.surface}`);
    assert.ok(luminance(light.text) < 0.05, `dark text: ${light.text}`);
    assert.ok(luminance(light.inputBackground) > 0.85, `light inputs: ${light.inputBackground}`);
    assertReadable(light, "light");
    for (const key of ["page", "text", "surface", "bar", "ratio"]) assert.notEqual(light[key], dark[key], `${key} changes with the scheme`);
    await page.close();
  });

  it("labels every control", async () => {
    const page = await browser.newPage({ locale: "en-US" });
    await signIn(page, worker, TOKEN);
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select, textarea, button")]
        .filter((el) => (el.tagName === "BUTTON" ? !el.textContent.trim() : !(el.labels?.length && [...el.labels].some((l) => l.textContent.trim())) && !el.getAttribute("aria-label")))
        .map((el) => el.outerHTML),
    );
    assert.deepEqual(unlabelled, []);
    assert.equal(await page.getAttribute("#purge-urls", "aria-describedby"), "purge-hint purge-urls-hint");
    const title = await page.evaluate(() => document.getElementById(document.querySelector("#chart svg").getAttribute("aria-labelledby")).textContent);
    assert.match(title, /^Requests per minute \(bars\) and hit ratio \(line\) over the last hour: 4 requests/);
    await page.close();
  });

  it("says with more than colour which window is shown, and what bars and line are", async () => {
    const page = await browser.newPage({ locale: "en-US" });
    await signIn(page, worker, TOKEN);
    const marker = (id) => page.evaluate((id) => getComputedStyle(document.getElementById(id), "::before").content, id);
    assert.equal(await marker("window-hour"), '"✓ "');
    assert.equal(await marker("window-day"), "none");
    await page.click("#window-day");
    assert.equal(await marker("window-day"), '"✓ "');
    assert.equal(await marker("window-hour"), "none");
    const legend = await page.textContent("#legend");
    assert.match(legend, /Requests per 30 minutes \(bars, left axis\)/);
    assert.match(legend, /Hit ratio, % \(line with dots, right axis/);
    await page.close();
  });

  it("works from the keyboard: signing in, pausing, switching the window", async () => {
    const page = await browser.newPage({ locale: "en-US" });
    await page.goto(new URL("/_edgecache/?refresh=60", worker.url).href);
    const focused = () => page.evaluate(() => document.activeElement?.id);
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "token");
    await page.keyboard.type(TOKEN);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#app:not([hidden])");
    await page.click("header h1"); // where the next Tab starts from
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "refresh-toggle");
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.equal(outline, "solid", "a visible focus ring");
    await page.keyboard.press("Space");
    assert.equal(await page.textContent("#refresh-toggle"), "Resume auto-refresh");
    await page.keyboard.press("Enter");
    assert.equal(await page.textContent("#refresh-toggle"), "Pause auto-refresh");
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "signout");
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "window-hour");
    await page.keyboard.press("Tab");
    assert.equal(await focused(), "window-day");
    await page.keyboard.press("Enter");
    assert.equal(await page.getAttribute("#window-day", "aria-pressed"), "true");
    assert.match(await page.textContent("#chart-caption"), /last 24 hours/);
    await page.close();
  });
});
