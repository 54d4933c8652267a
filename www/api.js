// Talking to the admin API beside the dashboard: the token, kept in sessionStorage (this tab
// only), the sign-in it belongs to, the message line, and the calls themselves.
import { $ } from "./format.js";

const base = location.pathname.replace(/\/(index\.html)?$/, "");
const TOKEN_KEY = "edgecache-token";
/** The longest a call may take before it counts as failed (the next refresh tries again). */
const CALL_TIMEOUT_MS = 30000;

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function keepToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Whether the app is shown; `count` tells answers to an earlier sign-in apart. */
export const session = { signedIn: false, count: 0 };

/** What a refused token does (signs out, set by the entry); then the message says why. */
let refused = () => {};
export function whenRefused(signOut) {
  refused = signOut;
}

/** What #message shows, and whether an automatic refresh put it there. */
let messageFromRefresh = false;
export function show(message, kind = "error") {
  const box = $("message");
  box.textContent = message;
  box.className = kind === "info" ? "info" : "";
  box.hidden = !message;
  messageFromRefresh = false;
}

/** Shows a message that the next successful refresh takes away. */
export function showFromRefresh(message) {
  show(message);
  messageFromRefresh = true;
}

/** Takes the message away if an automatic refresh put it there. */
export function clearRefreshMessage() {
  if (messageFromRefresh) show("");
}

/** Calls the admin API; a 401 signs out (which stops the refresh) with a clear message. */
export async function api(path, init = {}) {
  let response;
  try {
    response = await fetch(base + path, {
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      ...init,
      headers: { ...(init.headers || {}), authorization: `Bearer ${token()}` },
    });
  } catch (error) {
    if (error.name === "TimeoutError") throw new Error(`The worker did not answer within ${CALL_TIMEOUT_MS / 1000} s.`);
    throw new Error(`The worker could not be reached (${error.message}).`);
  }
  let body = {};
  try {
    body = await response.json();
  } catch {
    // A non-JSON answer: the status says enough.
  }
  if (response.status === 401) {
    const wasIn = session.signedIn;
    refused();
    show(`The token was refused (401 Unauthorized).${wasIn ? " Automatic refresh stopped." : ""} Check ADMIN_TOKEN and sign in again.`);
    throw new Error("unauthorized");
  }
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}
