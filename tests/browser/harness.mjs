// What the dashboard's browser tests share: Debian's Chromium driven by playwright-core, and
// signing in. Screenshots go to the git-ignored test-results/.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { chromium } from "playwright-core";

export const shots = path.resolve("test-results");

/** Chromium with a fresh, empty profile of its own, asking nothing of the network. */
export async function launchBrowser() {
  await mkdir(shots, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/** Opens the dashboard (with `query`, e.g. `?refresh=0.3`) and signs in with `token`. */
export async function signIn(page, worker, token, query = "") {
  await page.goto(new URL(`/_edgecache/${query}`, worker.url).href);
  await page.fill("#token", token);
  await page.click("#login-form button");
  await page.waitForSelector("#app:not([hidden])");
}

/** The admin API's answer, read by the test itself (not through the page). */
export async function adminApi(worker, token, route) {
  const response = await fetch(new URL(`/_edgecache${route}`, worker.url), { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`${route}: ${response.status}`);
  return response.json();
}

/** Requests counted in one set of counters of /stats. */
export const requestsOf = (c) => c.hits + c.stale + c.misses + c.bypasses;

/** A share as the dashboard writes it. */
export const shareText = (n, total) => `${((n / total) * 100).toFixed(1)}%`;

/** A number as the page writes it (en-US grouping in the test browser). */
export const parseCount = (text) => Number(text.replace(/[^\d.]/g, ""));
