// The live leaderboard page: period tabs, the board with tiers, search, connection badge, sync age.

import { applyDelta, formatAge, formatAmount, movement } from "./board.js";
import { $, el, setText } from "./dom.js";
import { flash, flip } from "./flip.js";
import { showConnection } from "./connection-badge.js";
import { LiveSocket } from "./socket.js";
import { tierFor } from "./tiers.js";

const PERIODS = ["today", "weekly", "monthly", "all_time"];
const PAGE = 100;

const requested = new URLSearchParams(location.search).get("period");
const view = {
  period: PERIODS.includes(requested) ? requested : "monthly",
  query: "",
  shown: PAGE,
  syncedAt: null,
};
const boards = new Map(); // period -> rows
const totals = new Map(); // period -> players on the board
let allTime = new Map(); // uid -> all-time amount, for tiers
const nodes = new Map(); // uid -> <tr>, reused so rows can slide
const body = $("#board tbody");

const socket = new LiveSocket({ onState: (state) => showConnection($("#conn"), state) });

function rowNode(uid) {
  let tr = nodes.get(uid);
  if (!tr) {
    tr = el(
      "tr",
      { "data-key": uid },
      el("td", { class: "rank" }, el("span", { class: "pill" })),
      el("td", { class: "move" }, el("span")),
      el("td", { class: "player" }, el("a", { href: `/player/${encodeURIComponent(uid)}` })),
      el("td", { class: "tier-col" }, el("span", { class: "tier" })),
      el("td", { class: "amount" }),
    );
    nodes.set(uid, tr);
  }
  return tr;
}

function fillRow(tr, row) {
  const [rank, move, player, tier, amount] = tr.children;
  const pill = rank.firstChild;
  setText(pill, row.rank);
  pill.dataset.top = row.rank <= 3 ? String(row.rank) : "";
  const m = movement(row);
  move.firstChild.className = m.kind;
  setText(move.firstChild, m.text);
  setText(player.firstChild, row.name); // untrusted: text only
  const t = tierFor(allTime.get(row.uid) ?? (view.period === "all_time" ? row.amount : 0));
  tier.firstChild.dataset.tier = t.name.toLowerCase();
  setText(tier.firstChild, t.name);
  setText(amount, formatAmount(row.amount));
}

function visibleRows() {
  const rows = boards.get(view.period) || [];
  const q = view.query.toLocaleLowerCase();
  return q ? rows.filter((r) => r.name.toLocaleLowerCase().includes(q)) : rows;
}

function render(changed = null) {
  const rows = visibleRows();
  const shown = rows.slice(0, view.shown);
  const keep = new Set(shown.map((r) => r.uid));
  flip(body, () => {
    body.replaceChildren(
      ...shown.map((row) => {
        const tr = rowNode(row.uid);
        fillRow(tr, row);
        return tr;
      }),
    );
  });
  for (const uid of nodes.keys()) if (!keep.has(uid)) nodes.delete(uid);
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
  if (msg.type !== "snapshot" && msg.type !== "delta") return;
  const rows = msg.type === "snapshot" ? msg.rows : applyDelta(boards.get(period) || [], msg);
  boards.set(period, rows);
  totals.set(period, msg.total ?? rows.length);
  if (period === "all_time") allTime = new Map(rows.map((r) => [r.uid, r.amount]));
  if (msg.synced_at) view.syncedAt = Date.parse(msg.synced_at);
  if (period === view.period || period === "all_time") {
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
  if (view.period !== "all_time") {
    socket.unsubscribe(`leaderboard:${view.period}`);
    boards.delete(view.period);
  }
  view.period = period;
  view.shown = PAGE;
  nodes.clear();
  body.replaceChildren();
  history.replaceState(null, "", period === "monthly" ? location.pathname : `?period=${period}`);
  for (const tab of $("#tabs").children) tab.setAttribute("aria-selected", String(tab.dataset.period === period));
  if (period !== "all_time") follow(period);
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

socket.start();
follow("all_time");
if (view.period !== "all_time") follow(view.period);
setInterval(renderAge, 1000);
