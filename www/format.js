// Formatting for the dashboard: numbers, shares, sizes and times, and the small DOM helpers
// every table and the chart build with (a cell, an SVG element, a share with its bar).

export const $ = (id) => document.getElementById(id);

export const fmt = new Intl.NumberFormat();
export const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
export const pct = (ratio) => `${(ratio * 100).toFixed(1)}%`;
export const share = (n, total) => (total ? pct(n / total) : "–");
export const bytes = (n) => (n > 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : n > 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
export const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
export const clockSeconds = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
/** Requests counted in a set of counters. */
export const requestsOf = (c) => c.hits + c.stale + c.misses + c.bypasses;

export function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

const SVG = "http://www.w3.org/2000/svg";
/** An SVG element with attributes (never a style attribute: the CSP forbids inline styles). */
export function svg(name, attributes = {}, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text != null) element.textContent = text;
  return element;
}

/** A share as text and as a small bar beside it (the text alone carries the figure). */
export function shareCell(n, total) {
  const td = document.createElement("td");
  td.className = "share";
  const ratio = total ? n / total : 0;
  const bar = svg("svg", { width: 64, height: 8, viewBox: "0 0 64 8", "aria-hidden": "true", class: "sharebar" });
  bar.append(svg("rect", { class: "sharebar-track", x: 0, y: 0, width: 64, height: 8, rx: 2 }));
  if (ratio > 0) bar.append(svg("rect", { class: "sharebar-fill", x: 0, y: 0, width: Math.max(1, ratio * 64), height: 8, rx: 2 }));
  const text = document.createElement("span");
  text.textContent = share(n, total);
  td.append(bar, text);
  return td;
}
