// The live leaderboard page: period tabs, the board with tiers, search, connection badge, sync age.

import { matches, searchKey } from "./search.js";
import { applyDelta, formatAge, movement } from "./board.js";
import { $, el, setText } from "./dom.js";
import { flash, flip } from "./flip.js";
import { formatUsd } from "./money.js";
import { showConnection } from "./connection-badge.js";
import { LiveSocket } from "./socket.js";
import { bindPresence } from "./presence.js";
import { tierFor, tierLegend, tierTitle } from "./tiers.js";
import { KeyedNodes } from "./keyed.js";
import { ownPlayer, showName } from "./me.js";

const PERIODS = ["today", "weekly", "monthly", "all_time"];
const PAGE = 100;

const requested = new URLSearchParams(location.search).get("period");
const view = {
  period: PERIODS.includes(requested) ? requested : "monthly",
  query: "",
  shown: PAGE,
  syncedAt: null,
};
let own = null; // the signed-in viewer's linked player: their row shows their real name
const boards = new Map(); // period -> rows
const totals = new Map(); // period -> players on the board
const nodes = new KeyedNodes((uid) =>
  el(
    "tr",
    { "data-key": uid },
    el("td", { class: "rank" }, el("span", { class: "pill" })),
    el("td", { class: "move" }, el("span")),
    el("td", { class: "player" }, el("a", { href: `/player/${encodeURIComponent(uid)}` })),
    el("td", { class: "tier-col" }, el("span", { class: "tier" })),
    el("td", { class: "amount" }),
  ),
);
const body = $("#board tbody");

const socket = new LiveSocket({ onState: (state) => showConnection($("#conn"), state) });
const presence = bindPresence($("#watching")); // "N watching" on the board being followed

function fillRow(tr, row) {
  const [rank, move, player, tier, amount] = tr.children;
  const pill = rank.firstChild;
  setText(pill, row.rank);
  pill.dataset.top = row.rank <= 3 ? String(row.rank) : "";
  const m = movement(row);
  move.firstChild.className = m.kind;
  setText(move.firstChild, m.text);
  showName(own, tr, player.firstChild, row.uid, row.name);
  // The all-time amount, as the legend says; none until the all-time board is in (never a guessed Copper).
  // Rows carry their all-time amount from the server: no need to follow the all-time board.
  const lifetime = view.period === "all_time" ? row.amount : row.lifetime ?? undefined;
  const t = lifetime === undefined ? null : tierFor(lifetime);
  tier.firstChild.dataset.tier = t ? t.name.toLowerCase() : "";
  tier.firstChild.title = t ? tierTitle(lifetime) : "";
  setText(tier.firstChild, t ? t.name : "");
  setText(amount, formatUsd(row.amount));
}

function visibleRows() {
  const rows = boards.get(view.period) || [];
  const q = searchKey(view.query);
  return q ? rows.filter((r) => matches(q, searchKey(r.name))) : rows;
}

function render(changed = null) {
  const rows = visibleRows();
  const shown = rows.slice(0, view.shown);
  const keep = new Set(shown.map((r) => r.uid));
  flip(body, () => {
    body.replaceChildren(
      ...shown.map((row) => {
        const tr = nodes.get(row.uid);
        fillRow(tr, row);
        return tr;
      }),
    );
  });
  nodes.keepOnly(keep);
  if (changed) for (const uid of changed) if (nodes.has(uid)) flash(nodes.get(uid));
  const total = totals.get(view.period);
  setText($("#count"), total === undefined ? "–" : view.query ? `${rows.length} of ${total}` : String(total));
  $("#more").hidden = rows.length <= view.shown;
  const empty = $("#empty");
  empty.hidden = shown.length > 0 || !boards.has(view.period);
  setText(empty, view.query ? "No player matches that name." : "Nobody on this board yet.");
}

function renderAge() {
  const text = view.syncedAt ? formatAge(Math.max(0, (Date.now() + socket.serverOffsetMs - view.syncedAt) / 1000)) : "waiting…";
  setText($("#synced"), text);
}

function onBoard(period, msg) {
  if (presence(msg)) return;
  if (msg.type !== "snapshot" && msg.type !== "delta") return;
  const rows = msg.type === "snapshot" ? msg.rows : applyDelta(boards.get(period) || [], msg);
  boards.set(period, rows);
  totals.set(period, msg.total ?? rows.length);
  if (msg.synced_at) view.syncedAt = Date.parse(msg.synced_at);
  if (period === view.period) {
    const changed = msg.type === "delta" && period === view.period ? (msg.changes || []).map((c) => c.uid) : null;
    render(changed);
  }
  renderAge();
}

function follow(period) {
  socket.subscribe(`leaderboard:${period}`, (msg) => onBoard(period, msg));
}

function switchPeriod(period) {
  if (period === view.period && boards.has(period)) return;
  socket.unsubscribe(`leaderboard:${view.period}`);
  boards.delete(view.period);
  view.period = period;
  view.shown = PAGE;
  nodes.clear();
  body.replaceChildren();
  history.replaceState(null, "", period === "monthly" ? location.pathname : `?period=${period}`);
  for (const tab of $("#tabs").children) tab.setAttribute("aria-selected", String(tab.dataset.period === period));
  follow(period);
  render();
}

for (const tab of $("#tabs").children) {
  tab.setAttribute("aria-selected", String(tab.dataset.period === view.period));
  tab.addEventListener("click", () => switchPeriod(tab.dataset.period));
}
$("#search").addEventListener("input", (e) => {
  view.query = e.target.value.trim();
  view.shown = PAGE;
  render();
});
$("#more").addEventListener("click", () => {
  view.shown += PAGE;
  render();
});

setText($("#tier-legend"), tierLegend());
ownPlayer().then((player) => {
  own = player;
  if (own) render();
});
socket.start();
follow(view.period);
setInterval(renderAge, 1000);
