// The edgecache dashboard: talks to the admin API beside it with the token kept in
// sessionStorage (this tab only). No cookies, no external resources: it works offline.
// It refreshes itself every 10 s (`?refresh=<seconds>` sets another interval), one request
// at a time, while the tab is visible and until it is paused or the token is refused.
// This module is the entry: signing in and out, and what each button and form does.
import { forgetToken, keepToken, session, show, token, whenRefused } from "./api.js";
import { $ } from "./format.js";
import { submitInspect } from "./inspect.js";
import { forgetLog, loadLog, submitPurge } from "./purge.js";
import { auto, refresh, schedule, showRefreshState, tick, togglePause, visibilityChanged } from "./refresh.js";
import { render, view } from "./view.js";

function signOut() {
  forgetToken();
  session.signedIn = false;
  session.count++;
  clearTimeout(auto.timer);
  auto.timer = null;
  auto.updated = 0;
  view.stats = null;
  forgetLog();
  $("app").hidden = true;
  $("login").hidden = false;
  $("signout").hidden = true;
  showRefreshState();
}

async function signIn(value) {
  keepToken(value);
  const count = ++session.count;
  try {
    await refresh(count);
  } catch (error) {
    if (error.message !== "unauthorized") show(error.message);
    return;
  }
  if (count !== session.count) return;
  show("");
  session.signedIn = true;
  $("login").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  schedule();
}

// A refused token signs out, whichever call it was refused to.
whenRefused(signOut);

$("refresh-toggle").addEventListener("click", togglePause);

document.addEventListener("visibilitychange", visibilityChanged);

for (const button of document.querySelectorAll(".window button")) {
  button.addEventListener("click", () => {
    view.shown = button.dataset.window;
    render();
  });
}

// The chart is drawn at its box's width: drawn again when that changes (a phone turned).
let chartWidth = 0;
new ResizeObserver(() => {
  const width = $("chart").clientWidth;
  if (width && width !== chartWidth) {
    chartWidth = width;
    render();
  }
}).observe($("chart"));

$("log-older").addEventListener("click", () => loadLog(true).catch((error) => show(error.message)));

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn($("token").value.trim());
  $("token").value = "";
});

$("signout").addEventListener("click", () => {
  signOut();
  show("Signed out.", "info");
});

$("purge-form").addEventListener("submit", (event) => submitPurge(event, () => tick(true)));

$("inspect-form").addEventListener("submit", submitInspect);

showRefreshState();
if (token()) signIn(token());
