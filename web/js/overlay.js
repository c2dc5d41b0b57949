// The OBS overlay: one board (a period or the current race), configured by URL, never an error page.

import { applyDelta, formatAmount } from "./board.js";
import { ServerClock, formatCountdown, secondsLeft } from "./countdown.js";
import { $, el, setText } from "./dom.js";
import { flip } from "./flip.js";
import { parseOptions } from "./overlay-options.js";
import { emptyRace, formatCents, reduceRace } from "./race-feed.js";
import { LiveSocket, State } from "./socket.js";

const TITLES = { today: "Today's top wagers", weekly: "This week", monthly: "This month", all_time: "All-time wagers" };
const STALE_AFTER_MS = 3000;

const opts = parseOptions(location.search);
const panel = $("#panel");
const list = $("#rows");
const timer = $("#timer");
const clock = new ServerClock();
let rows = [];
let race = emptyRace();
let painted = false;
let timed = false;
let staleTimer = null;

document.documentElement.style.setProperty("--accent", opts.accent);
document.documentElement.style.setProperty("--scale", String(opts.scale));
panel.dataset.theme = opts.theme;
setText($("#title"), opts.board === "race" ? "Race" : TITLES[opts.board]);

function markStale(stale) {
  panel.classList.toggle("is-stale", stale);
  $("#stale").hidden = !stale;
}

function onState(state) {
  clearTimeout(staleTimer);
  if (state === State.LIVE) markStale(false);
  else staleTimer = setTimeout(() => markStale(true), STALE_AFTER_MS); // brief blips stay invisible
}

function item(key, pos, name, amount, prize) {
  return el(
    "li",
    { "data-key": key },
    el("span", { class: "pos" }, pos),
    el("span", { class: "name", elementtiming: timed ? null : "overlay:first-rows" }, name),
    el("span", { class: "amt" }, amount),
    prize === null ? null : el("span", { class: "prize" }, prize),
  );
}

function paint(items, empty = "Waiting for the first standings…") {
  flip(list, () => list.replaceChildren(...(items.length ? items : [el("li", { class: "waiting" }, empty)])));
  // Rows of the first painted frame carry `elementtiming`, so the browser times their paint.
  if (!painted && items.length) {
    painted = true;
    requestAnimationFrame(() => requestAnimationFrame(() => (timed = true)));
  }
}

function paintBoard() {
  paint(rows.slice(0, opts.top).map((r) => item(r.uid, r.rank, r.name, formatAmount(r.amount), null)));
}

function paintRace() {
  if (opts.board === "race") {
    setText($("#title"), race.race ? race.race.title : "No race right now");
    const standings = race.winners && race.winners.length ? race.winners : race.standings;
    const items = standings.slice(0, opts.top).map((s) => item(s.uid, s.position, s.name, formatAmount(s.amount), s.prize_cents ? formatCents(s.prize_cents) : null));
    paint(items, race.race ? "No wagers counted yet." : "The next race appears here.");
  }
  paintTimer();
}

function paintTimer() {
  const left = opts.timer ? secondsLeft(race.deadline, clock.now()) : null;
  timer.hidden = left === null;
  if (left !== null) setText(timer, (race.status === "upcoming" ? "starts " : "") + formatCountdown(left));
}

function onBoard(msg) {
  if (msg.type === "snapshot") rows = msg.rows;
  else if (msg.type === "delta") rows = applyDelta(rows, msg, opts.top + 5);
  else return;
  if (rows.length < Math.min(opts.top, msg.total ?? 0)) socket.resync(); // rows left from under a limited board
  paintBoard();
}

function onRace(msg) {
  if (msg.server_now) clock.observe(msg.server_now);
  if (msg.type === "error") return; // races not served here: keep the board without a timer
  race = reduceRace(race, msg);
  if (msg.type !== "tick") paintRace();
  else paintTimer();
}

const socket = new LiveSocket({ onState, capMs: 5000, offlineAfter: Infinity });
if (opts.board === "race") socket.subscribe("race:current", onRace, { limit: opts.top });
else {
  socket.subscribe(`leaderboard:${opts.board}`, onBoard, { limit: opts.top + 5 });
  if (opts.timer) socket.subscribe("race:current", onRace);
}
socket.start();
setInterval(paintTimer, 250);

// OBS pauses hidden sources: take fresh state the moment the source shows again.
window.addEventListener("obsSourceVisibleChanged", (e) => e.detail && e.detail.visible && socket.resync());
window.addEventListener("obsSourceActiveChanged", (e) => e.detail && e.detail.active && socket.resync());
document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && socket.resync());
