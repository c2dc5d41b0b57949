// The connection badge every page shows: live, reconnecting or offline, and "(SSE)" when the
// page follows the server through /sse because websockets do not get through.

import { Transport, transportInUse } from "./socket.js";

const LABELS = { connecting: "connecting", live: "live", reconnecting: "reconnecting", offline: "offline" };

export function showConnection(badge, state, transport = transportInUse()) {
  if (!badge) return;
  const sse = transport === Transport.SSE;
  badge.dataset.state = state;
  badge.dataset.transport = transport;
  badge.lastElementChild.textContent = (LABELS[state] || state) + (sse && state === "live" ? " (SSE)" : "");
  badge.title =
    state === "live"
      ? sse
        ? "Connected through server-sent events (websockets are blocked here): updates arrive as they happen"
        : "Connected: updates arrive as they happen"
      : "Not connected: retrying by itself";
}
