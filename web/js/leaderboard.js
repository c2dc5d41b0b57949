// The live leaderboard page: tabs, board, search, connection badge, last-synced age.

import { applyDelta, formatAge, formatAmount, movement } from "./board.js";
import { LiveSocket } from "./socket.js";

const PERIODS = [
  ["today", "Today"],
  ["weekly", "This week"],
  ["monthly", "This month"],
  ["all_time", "All time"],
];

const $ = (sel) => document.querySelector(sel);
const view = { period: new URLSearchParams(location.search).get("period") || "monthly", rows: [], syncedAt: null, query: "" };

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text; // names are untrusted: always text, never HTML
  return node;
}

function renderTabs() {
  const tabs = $("#tabs");
  tabs.replaceChildren(
    ...PERIODS.map(([id, label]) => {
      const b = el("button", { type: "button", role: "tab", "aria-selected": String(id === view.period), "data-period": id }, label);
      b.addEventListener("click", () => switchPeriod(id));
      return b;
    }),
  );
}

function renderBoard() {
  const body = $("#board tbody");
  const q = view.query.toLowerCase();
  const rows = q ? view.rows.filter((r) => r.name.toLowerCase().includes(q)) : view.rows;
  const before = new Map([...body.children].map((tr) => [tr.dataset.uid, tr.getBoundingClientRect().top]));
  body.replaceChildren(
    ...rows.slice(0, 200).map((row) => {
      const tr = el("tr", { "data-uid": row.uid });
      const move = movement(row);
      tr.append(
        el("td", { class: "rank" }, String(row.rank)),
        el("td", { class: `move ${move.kind}` }, move.text),
        el("td", { class: "name" }, row.name),
        el("td", { class: "amount" }, formatAmount(row.amount)),
      );
      return tr;
    }),
  );
  // FLIP: slide rows from where they were to where they are now.
  for (const tr of body.children) {
    const top = before.get(tr.dataset.uid);
    if (top === undefined) continue;
    const dy = top - tr.getBoundingClientRect().top;
    if (dy) tr.animate([{ transform: `translateY(${dy}px)` }, { transform: "translateY(0)" }], { duration: 450, easing: "ease-out" });
  }
  $("#count").textContent = `${view.rows.length} players`;
}

function renderAge() {
  $("#synced").textContent = view.syncedAt ? `Last synced ${formatAge((Date.now() - view.syncedAt) / 1000)}` : "Waiting for the first sync…";
}

function onMessage(msg) {
  if (msg.type === "snapshot") {
    view.rows = msg.rows;
  } else if (msg.type === "delta") {
    view.rows = applyDelta(view.rows, msg);
  } else {
    return;
  }
  view.syncedAt = msg.synced_at ? Date.parse(msg.synced_at) : null;
  renderBoard();
  renderAge();
}

let unsubscribe = null;
const socket = new LiveSocket({
  onState: (state) => {
    const badge = $("#conn");
    badge.textContent = state;
    badge.dataset.state = state;
  },
});

function switchPeriod(period) {
  if (unsubscribe) unsubscribe();
  view.period = period;
  view.rows = [];
  history.replaceState(null, "", `?period=${period}`);
  renderTabs();
  renderBoard();
  unsubscribe = socket.subscribe(`leaderboard:${period}`, onMessage);
}

$("#search").addEventListener("input", (e) => {
  view.query = e.target.value.trim();
  renderBoard();
});

socket.start();
switchPeriod(view.period);
setInterval(renderAge, 1000);
