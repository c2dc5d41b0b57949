// The signed-in viewer's own player (GET /api/me): under NAME_MASK=partial the one row a page
// shows with its real name, for this viewer alone, and highlights.

import { api } from "./api.js";

// {uid, name} of the viewer's linked player, or null: signed out, not linked (yet), or no
// Telegram on this server. A failed request is null too: the page then shows every name as
// everyone sees it, which is what it shows anyway.
export async function ownPlayer() {
  try {
    const me = await api("/api/me");
    return me && me.player ? me.player : null;
  } catch {
    return null;
  }
}

// Whether `uid` is the viewer's own player.
export function isOwn(own, uid) {
  return own !== null && own.uid === uid;
}

// Show `name` (or, on the viewer's own row, their real name) in `node` and mark `row` as theirs.
export function showName(own, row, node, uid, name) {
  const mine = isOwn(own, uid);
  row.classList.toggle("me", mine);
  node.textContent = mine ? own.name : name; // untrusted: text only
  node.title = mine ? "You: only you see your name here" : "";
}
