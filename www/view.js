// What the stats section shows: the window chosen ("hour" or "day") and the last stats read,
// kept so that switching windows redraws without asking again.
import { renderCards, renderChart, slotsOf } from "./chart.js";
import { renderOriginSide } from "./origin.js";
import { renderReasons } from "./reasons.js";
import { renderHosts, renderRoutes } from "./tables.js";
import { renderUrls } from "./urls.js";

/** The window shown: "hour" or "day"; the last stats read, to switch without asking again. */
export const view = { shown: "hour", stats: null };

export function render() {
  const { shown, stats } = view;
  if (!stats) return;
  for (const button of document.querySelectorAll(".window button")) button.setAttribute("aria-pressed", String(button.dataset.window === shown));
  const window = stats[shown];
  const slots = slotsOf(stats.minutes, shown, Date.now());
  renderCards(window, slots, shown, stats);
  renderChart(slots, shown);
  renderReasons(window);
  renderRoutes(stats, shown);
  renderHosts(stats, shown);
  renderUrls(stats, shown);
  renderOriginSide(stats, shown);
}
