// The race page: countdown on the server's clock, prize table, live standings, past races.

import { api } from "./api.js";
import { formatAmount, movement } from "./board.js";
import { ServerClock, secondsLeft, splitSeconds } from "./countdown.js";
import { $, el, setText } from "./dom.js";
import { flip } from "./flip.js";
import { emptyRace, formatCents, reduceRace } from "./race-feed.js";
import { LiveSocket } from "./socket.js";
import { showConnection } from "./connection-badge.js";

const PAGE = 50;
const KINDS = { monthly: "Monthly race", weekly: "Weekly race", custom: "Special race" };
const when = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

const idInPath = location.pathname.match(/^\/race\/([^/]+)$/);
const channel = idInPath ? `race:${decodeURIComponent(idInPath[1])}` : "race:current";
const clock = new ServerClock();
let state = emptyRace();
let shown = PAGE;

const fmtTime = (iso) => (iso ? when.format(new Date(iso)) : "—");
const pct = (n) => `${Number(n.toFixed(2))}%`;

function renderRace() {
  const { race } = state;
  $("#none").hidden = !state.seen || Boolean(race);
  $("#current").hidden = !race;
  if (!race) return;
  document.title = `${race.title} — Goated Live`;
  const status = $("#status");
  status.dataset.status = state.status;
  setText(status, state.status);
  setText($("#kind"), KINDS[race.kind] || race.kind || "");
  setText($("#title"), race.title);
  setText($("#description"), race.description || "");
  setText($("#pool"), formatCents(race.pool_cents));
  setText($("#min"), race.min_wager ? formatAmount(race.min_wager) : "none");
  setText($("#starts"), fmtTime(race.starts_at));
  setText($("#ends"), fmtTime(race.ends_at));
  renderPrizes(race);
  renderStandings();
  renderWinners();
  renderClock();
}

function renderPrizes(race) {
  const prizes = race.prizes_cents || [];
  $("#prizes").replaceChildren(
    ...prizes.map((cents, i) =>
      el("tr", {}, el("td", {}, `#${i + 1}`), el("td", { class: "muted" }, race.split && race.split[i] !== undefined ? pct(race.split[i]) : ""), el("td", {}, formatCents(cents))),
    ),
  );
}

function standingRow(s) {
  const m = s.prev_position === undefined ? { kind: "same", text: "" } : movement({ rank: s.position, prev: s.prev_position });
  return el(
    "tr",
    { "data-key": s.uid, class: s.qualified === false ? "unqualified" : null },
    el("td", { class: "rank" }, el("span", { class: "pill", "data-top": s.position <= 3 ? s.position : "" }, s.position)),
    el("td", { class: "move" }, el("span", { class: m.kind }, m.text)),
    el(
      "td",
      { class: "player" },
      el("a", { href: `/player/${encodeURIComponent(s.uid)}` }, s.name),
      s.qualified === false ? el("span", { class: "qual", title: "Below the minimum wager" }, "not qualified") : null,
    ),
    el("td", { class: "amount" }, formatAmount(s.amount)),
    el("td", { class: "gap" }, s.gap === null || s.gap === undefined ? "" : `−${formatAmount(s.gap)}`),
    el("td", { class: "prize" }, s.prize_cents ? formatCents(s.prize_cents) : ""),
  );
}

function renderStandings() {
  const rows = state.standings.slice(0, shown);
  const body = $("#standings");
  flip(body, () => body.replaceChildren(...rows.map(standingRow)));
  $("#standings-empty").hidden = rows.length > 0;
  $("#more").hidden = state.standings.length <= shown;
}

function renderWinners() {
  const winners = state.winners || (state.race && state.race.winners) || [];
  $("#winners-banner").hidden = !(state.status === "ended" && winners.length);
  $("#winners").replaceChildren(...winners.map(winnerItem));
}

function winnerItem(w) {
  return el(
    "li",
    {},
    el("span", { class: "pill", "data-top": w.position <= 3 ? w.position : "" }, w.position),
    el("a", { class: "who", href: `/player/${encodeURIComponent(w.uid)}` }, w.name),
    el("span", { class: "muted num" }, formatAmount(w.amount)),
    el("b", { class: "pool num" }, formatCents(w.prize_cents)),
  );
}

function renderClock() {
  const left = secondsLeft(state.deadline, clock.now());
  const labels = { upcoming: "Starts in", live: "Ends in", ended: "Finished", cancelled: "Cancelled" };
  setText($("#clock-label"), labels[state.status] || "");
  const box = $("#clock");
  box.dataset.seconds = left === null ? "" : String(left);
  const parts = splitSeconds(left || 0);
  for (const b of box.querySelectorAll("b")) {
    const unit = b.dataset.unit;
    setText(b, unit === "days" ? parts.days : String(parts[unit]).padStart(2, "0"));
  }
  setText($("#synced"), state.syncedAt ? `Standings from ${when.format(new Date(state.syncedAt))}` : "");
}

function showError(text) {
  const box = $("#error");
  setText(box, text);
  box.hidden = false;
}

// Old races have no channel any more: their archived result comes from the API.
async function loadArchived() {
  socket.unsubscribe(channel);
  let detail;
  try {
    detail = await api(`/api/races/${encodeURIComponent(idInPath[1])}?limit=${PAGE}`);
  } catch (err) {
    showError(err.status === 404 ? "That race does not exist." : `Could not load the race: ${err.message}`);
    return;
  }
  clock.observe(detail.server_now);
  state = reduceRace(state, { type: "race", server_now: detail.server_now, race: detail.race, standings: detail.standings, seconds_left: detail.seconds_left });
  state = { ...state, winners: detail.winners || [] };
  renderRace();
}

// A `race` message has no winners: an ended race fetches its archived result once.
async function loadWinners(raceId) {
  try {
    const detail = await api(`/api/races/${encodeURIComponent(raceId)}?limit=1`);
    if (state.race && state.race.id === raceId) {
      state = { ...state, winners: detail.winners || [] };
      renderWinners();
    }
  } catch {
    // the standings already show the final order
  }
}

function onMessage(msg) {
  if (msg.type === "error") {
    if (msg.code === "unknown_channel" && idInPath) loadArchived();
    else showError(msg.message);
    return;
  }
  if (msg.server_now) clock.observe(msg.server_now);
  state = reduceRace(state, msg);
  if (msg.type === "tick") renderClock();
  else renderRace();
  if (msg.type === "race" && state.status === "ended" && !state.winners) loadWinners(state.race.id);
  if (msg.type === "race_ended") loadPast();
}

function pastCard(race) {
  const winners = (race.winners || []).slice(0, 3);
  return el(
    "article",
    { class: "card" },
    el("h3", {}, el("a", { href: `/race/${encodeURIComponent(race.id)}` }, race.title)),
    el("p", { class: "muted" }, `${fmtTime(race.starts_at)} – ${fmtTime(race.ends_at)} · ${formatCents(race.pool_cents)} pool`),
    winners.length ? el("ol", { class: "winners" }, ...winners.map(winnerItem)) : el("p", { class: "muted" }, race.status === "cancelled" ? "Cancelled" : "No qualified winners"),
  );
}

async function loadPast() {
  let data;
  try {
    data = await api("/api/races?status=ended&limit=6");
  } catch {
    $("#past-empty").hidden = false;
    return;
  }
  const races = Array.isArray(data) ? data : data.races || data.items || [];
  // The list has no results; each race's detail carries its archived winners.
  const full = await Promise.all(
    races.map((r) => api(`/api/races/${encodeURIComponent(r.id)}?limit=3`).then((d) => ({ ...r, winners: d.winners || [] }), () => r)),
  );
  $("#past").replaceChildren(...full.map(pastCard));
  $("#past-empty").hidden = full.length > 0;
}

$("#more").addEventListener("click", () => {
  shown += PAGE;
  renderStandings();
});

const socket = new LiveSocket({ onState: (s) => showConnection($("#conn"), s) });
socket.subscribe(channel, onMessage);
socket.start();
setInterval(renderClock, 250);
loadPast();
