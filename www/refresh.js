// Refreshing: the stats and the purge log read again every REFRESH_MS, one refresh at a time,
// an interval after the last one ended, while the tab is visible and until paused.
import { api, clearRefreshMessage, session, showFromRefresh } from "./api.js";
import { $, clockSeconds } from "./format.js";
import { loadLog } from "./purge.js";
import { render, view } from "./view.js";

/** The refresh interval: `?refresh=<seconds>` (at least 0.2, at most an hour), else 10 s. */
const REFRESH_MS = (() => {
  const seconds = Number(new URLSearchParams(location.search).get("refresh"));
  return Number.isFinite(seconds) && seconds >= 0.2 ? Math.min(seconds, 3600) * 1000 : 10000;
})();

/** The refresh's state: paused, the next one's timer, one under way, another wanted, last ended. */
export const auto = { paused: false, timer: null, running: false, again: false, updated: 0 };

/** Reads the stats and the purge log; `count` tells answers to an earlier sign-in apart. */
export async function refresh(count = session.count) {
  const stats = await api("/stats");
  if (count !== session.count) return;
  view.stats = stats;
  render();
  await loadLog(false, count);
  if (count === session.count) auto.updated = Date.now();
}

export function showRefreshState() {
  $("refresh").hidden = !session.signedIn;
  $("refresh-toggle").textContent = auto.paused ? "Resume auto-refresh" : "Pause auto-refresh";
  const updated = auto.updated ? `updated ${clockSeconds.format(auto.updated)}` : "not updated yet";
  const every = `${REFRESH_MS / 1000} s`;
  $("refresh-status").textContent = auto.paused ? `Auto-refresh paused; ${updated}.` : document.hidden ? `Auto-refresh waits for this tab; ${updated}.` : `Auto-refresh every ${every}; ${updated}.`;
}

/** Plans the next refresh, an interval after the last one ended (so none overlap). */
export function schedule() {
  clearTimeout(auto.timer);
  auto.timer = null;
  showRefreshState();
  if (!session.signedIn || auto.paused || document.hidden) return;
  const wait = Math.max(0, auto.updated + REFRESH_MS - Date.now());
  auto.timer = setTimeout(tick, auto.updated ? wait : REFRESH_MS);
}

/** One refresh, unless one is under way (then another right after it, if `again`). */
export async function tick(again = false) {
  auto.timer = null;
  if (auto.running) {
    auto.again ||= again;
    return;
  }
  auto.running = true;
  const count = session.count;
  try {
    await refresh(count);
    if (count === session.count) clearRefreshMessage();
  } catch (error) {
    if (error.message !== "unauthorized" && count === session.count) {
      showFromRefresh(`Refreshing failed (${error.message.replace(/\.$/, "")}); trying again in ${REFRESH_MS / 1000} s.`);
      // A failed refresh counts as one for the interval too.
      auto.updated = Date.now();
    }
  } finally {
    auto.running = false;
    if (count === session.count) {
      if (auto.again && !auto.paused) {
        auto.again = false;
        tick();
      } else {
        schedule();
      }
    }
  }
}

/** The pause button: pausing stops the timer; resuming refreshes at once. */
export function togglePause() {
  auto.paused = !auto.paused;
  if (auto.paused) {
    clearTimeout(auto.timer);
    auto.timer = null;
    auto.again = false;
  } else {
    tick(true);
  }
  showRefreshState();
}

/** A hidden tab asks nothing (each refresh costs two control-plane requests). */
export function visibilityChanged() {
  if (session.signedIn && !auto.running) schedule();
}
