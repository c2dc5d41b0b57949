// The OBS overlay: one board (a period or the current race), configured by URL, never an error page.

import { api } from "./api.js";
import { applyDelta, movement } from "./board.js";
import { ServerClock, formatCountdown, secondsLeft } from "./countdown.js";
import { $, el, setText } from "./dom.js";
import { flip } from "./flip.js";
import { derivedAmount, formatCents, formatUsd, formatUsdCompact } from "./money.js";
import { parseOptions, raceFor } from "./overlay-options.js";
import { bindPresence } from "./presence.js";
import { emptyRace, reduceRace } from "./race-feed.js";
import { LiveSocket, State } from "./socket.js";
import { KeyedNodes } from "./keyed.js";

const TITLES = { today: "Today's top wagers", weekly: "This week", monthly: "This month", all_time: "All-time wagers" };
const STALE_AFTER_MS = 3000;
const FIND_RACE_EVERY_MS = 30_000; // a followed kind's next race (a new month's, a new week's)
const SHOW_WINNERS_MS = 30_000; // as race:current does, before moving on to the next race
const RACE_STANDINGS_MAX = 50; // a race channel's whole standings: every paid place, for `cols=prize`

const opts = parseOptions(location.search);
const panel = $("#panel");
const list = $("#rows");
const timer = $("#timer");
const clock = new ServerClock();
// The optional columns after the amount, in the order asked; the race board always pays out.
const columns = opts.board === "race" && !opts.cols.includes("prize") ? [...opts.cols, "prize"] : opts.cols;
const money = opts.short ? formatUsdCompact : formatUsd;
const prizeMoney = opts.short ? (cents) => formatUsdCompact(cents / 100) : formatCents;
const chimes = opts.sound ? import("./chime.js") : null; // loaded ahead, played when a race ends
let rows = [];
let race = emptyRace();
let painted = false;
let timed = false;
let staleTimer = null;
let raceChannel = null;
let endedAt = 0;
let shown = null; // what the viewer last saw change (for hide_idle)
let idleTimer = null;
const chimed = new Set(); // race ids whose end was already heard

document.documentElement.style.setProperty("--accent", opts.accent);
document.documentElement.style.setProperty("--scale", String(opts.scale));
panel.style.setProperty("--extra-cols", String(columns.length - (opts.board === "race" ? 1 : 0)));
panel.dataset.theme = opts.theme;
panel.classList.toggle("is-short", opts.short);
$("#test-badge").hidden = !opts.test;
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

// hide_idle: the panel slides away once what it shows (title, race, rows: who, where, how much)
// has not changed for that long, and slides back with the next change. The countdown ticking
// and an empty sync are not changes.
function noteChange() {
  if (!opts.hide_idle) return;
  const seen = [$("#title").textContent, race.race && race.race.id, race.status]
    .concat([...list.children].map((li) => [...li.children].slice(0, 3).map((c) => c.textContent).concat(li.dataset.key || li.textContent).join("|")))
    .join("\n");
  if (seen === shown) return;
  shown = seen;
  panel.classList.remove("is-idle");
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => panel.classList.add("is-idle"), opts.hide_idle * 60_000);
}

function gapText(gap) {
  if (gap === null || gap === undefined) return "";
  return gap === 0 ? "tied" : `−${money(gap)}`;
}

const FILL = {
  change(cell, row) {
    setText(cell, row.change ? row.change.text : "");
    cell.dataset.move = row.change ? row.change.kind : "";
  },
  gap: (cell, row) => setText(cell, gapText(row.gap)),
  prize: (cell, row) => setText(cell, row.prize ? prizeMoney(row.prize) : ""),
};

// One row node per key, kept across messages (keyed.js): a delta refills and moves rows.
const nodes = new KeyedNodes((key) =>
  el(
    "li",
    { "data-key": key },
    el("span", { class: "pos" }),
    el("span", { class: "name", elementtiming: timed ? null : "overlay:first-rows" }),
    el("span", { class: "amt" }),
    ...columns.map((col) => el("span", { class: col })),
  ),
);

// row: {pos, name, amount, change, gap, prize}; the columns read what they show.
function item(key, row) {
  const li = nodes.get(key);
  const [p, n, a, ...cells] = li.children;
  setText(p, row.pos);
  setText(n, row.name); // untrusted: text only
  setText(a, money(row.amount));
  columns.forEach((col, i) => FILL[col](cells[i], row));
  return li;
}

function paint(items, empty = "Waiting for the first standings…") {
  nodes.keepOnly(items.map((li) => li.dataset.key));
  flip(list, () => list.replaceChildren(...(items.length ? items : [el("li", { class: "waiting" }, empty)])));
  // Rows of the first painted frame carry `elementtiming`, so the browser times their paint.
  if (!painted && items.length) {
    painted = true;
    requestAnimationFrame(() => requestAnimationFrame(() => (timed = true)));
  }
  noteChange();
}

// What each player would win if the followed race ended now (a period board's prize column).
function racePrizes() {
  const standings = race.winners && race.winners.length ? race.winners : race.standings;
  return new Map(standings.map((s) => [s.uid, s.prize_cents]));
}

function paintBoard() {
  const prizes = columns.includes("prize") ? racePrizes() : new Map();
  const items = rows.slice(0, opts.top).map((r, i) =>
    item(r.uid, {
      pos: r.rank,
      name: r.name,
      amount: r.amount,
      change: movement(r),
      gap: i ? derivedAmount(rows[i - 1].amount, r.amount) : null,
      prize: prizes.get(r.uid) || null,
    }),
  );
  paint(items);
}

function paintRace() {
  if (opts.board === "race") {
    setText($("#title"), race.race ? race.race.title : "No race right now");
    const ended = Boolean(race.winners && race.winners.length);
    const standings = (ended ? race.winners : race.standings).slice(0, opts.top);
    const items = standings.map((s, i) =>
      item(s.uid, {
        pos: s.position,
        name: s.name,
        amount: s.amount,
        change: ended ? null : movement({ rank: s.position, prev: s.prev_position }),
        gap: ended ? (i ? derivedAmount(standings[i - 1].amount, s.amount) : null) : s.gap,
        prize: s.prize_cents || null,
      }),
    );
    paint(items, race.race ? "No wagers counted yet." : "The next race appears here.");
  } else if (columns.includes("prize")) paintBoard();
  else noteChange(); // the race's own changes (started, ended) count for hide_idle
  paintTimer();
}

function paintTimer() {
  const left = opts.timer ? secondsLeft(race.deadline, clock.now()) : null;
  timer.hidden = left === null;
  if (left !== null) setText(timer, (race.status === "upcoming" ? "starts " : "") + formatCountdown(left));
}

// watching=1: how many follow the overlay's channel live ("1,204 watching", presence.js), hidden
// until the first count. Counts of the overlay's other channel (a period board's race) are not shown.
const showPresence = bindPresence($("#watching"));
function onPresence(msg, channel) {
  if (opts.watching && msg.channel === channel) showPresence(msg);
}

function onBoard(msg) {
  if (msg.type === "presence") return onPresence(msg, `leaderboard:${opts.board}`);
  if (msg.type === "snapshot") rows = msg.rows;
  else if (msg.type === "delta") rows = applyDelta(rows, msg, opts.top + 5);
  else return;
  if (!opts.test && rows.length < Math.min(opts.top, msg.total ?? 0)) socket.resync(); // rows left from under a limited board
  paintBoard();
}

function onRace(msg) {
  if (msg.type === "presence") return opts.board === "race" && onPresence(msg, raceChannel);
  if (msg.server_now) clock.observe(msg.server_now);
  if (msg.type === "error") return; // races not served here: keep the board without a timer
  if (msg.type === "race_ended") {
    endedAt = Date.now();
    if (chimes && !chimed.has(msg.race_id)) {
      chimed.add(msg.race_id);
      chimes.then((m) => m.chime()).catch(() => {}); // no sound is better than a broken overlay
    }
  }
  race = reduceRace(race, msg);
  if (msg.type !== "tick") paintRace();
  else paintTimer();
}

function watchRace(channel) {
  if (channel === raceChannel) return;
  if (raceChannel) socket.unsubscribe(raceChannel);
  raceChannel = channel;
  race = emptyRace();
  paintRace();
  const limit = opts.board !== "race" && columns.includes("prize") ? RACE_STANDINGS_MAX : opts.top;
  if (channel) socket.subscribe(channel, onRace, { limit });
}

// The live race of a kind (ending soonest), else its next one; null when there is none.
async function findRace(kind) {
  for (const [status, by] of [["live", "ends_at"], ["upcoming", "starts_at"]]) {
    const page = await api(`/api/races?status=${status}&limit=100`);
    const mine = page.races.filter((r) => r.kind === kind).sort((a, b) => Date.parse(a[by]) - Date.parse(b[by]));
    if (mine.length) return mine[0].id;
  }
  return null;
}

async function followKind(kind) {
  if (race.status === "ended" && Date.now() - endedAt < SHOW_WINNERS_MS) return;
  try {
    const id = await findRace(kind);
    watchRace(id === null ? null : `race:${id}`);
  } catch {
    // The server is away: keep what is shown (the socket marks it stale); the next try is on schedule.
  }
}

const socket = new LiveSocket({ onState, capMs: 5000, offlineAfter: Infinity });
setInterval(paintTimer, 250);

if (opts.test) {
  // Test data: made-up players and race, fed through the same handlers; nothing is fetched.
  if (opts.board === "race") raceChannel = "race:test";
  const channel = raceChannel || `leaderboard:${opts.board}`;
  import("./overlay-test-data.js").then((m) => m.startTestFeed({ board: opts.board, onBoard, onRace, channel }));
} else {
  if (opts.board !== "race") socket.subscribe(`leaderboard:${opts.board}`, onBoard, { limit: opts.top + 5 });
  const followed = raceFor(opts);
  if (opts.board === "race" || opts.timer || opts.sound || columns.includes("prize")) {
    if (followed === "monthly" || followed === "weekly") {
      followKind(followed);
      setInterval(() => followKind(followed), FIND_RACE_EVERY_MS);
    } else watchRace(followed === "current" ? "race:current" : `race:${followed}`);
  }
  socket.start();

  // OBS pauses hidden sources: take fresh state the moment the source shows again.
  window.addEventListener("obsSourceVisibleChanged", (e) => e.detail && e.detail.visible && socket.resync());
  window.addEventListener("obsSourceActiveChanged", (e) => e.detail && e.detail.active && socket.resync());
  document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && socket.resync());
}
