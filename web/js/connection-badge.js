// The connection badge every page shows: live, reconnecting or offline.

const LABELS = { connecting: "connecting", live: "live", reconnecting: "reconnecting", offline: "offline" };

export function showConnection(badge, state) {
  if (!badge) return;
  badge.dataset.state = state;
  badge.lastElementChild.textContent = LABELS[state] || state;
  badge.title = state === "live" ? "Connected: updates arrive as they happen" : "Not connected: retrying by itself";
}
