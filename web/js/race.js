// The race page: countdown on the server's clock, prize table, live standings, past races;
// and what lets anyone check a race: the final standings' SHA-256, the CSV, the change history.

import { api } from "./api.js";
import { movement } from "./board.js";
import { ServerClock, secondsLeft, splitSeconds } from "./countdown.js";
import { $, el, setText } from "./dom.js";
import { flip } from "./flip.js";
import { formatCents, formatUsd } from "./money.js";
import { emptyRace, reduceRace } from "./race-feed.js";
import { LiveSocket } from "./socket.js";
import { bindPresence } from "./presence.js";
import { showConnection } from "./connection-badge.js";
import { KeyedNodes } from "./keyed.js";
import { ownPlayer, showName } from "./me.js";

const PAGE = 50;
const PAST = 6; // past races listed under the current one
const KINDS = { monthly: "Monthly race", weekly: "Weekly race", custom: "Special race" };
const when = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const stamp = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const HISTORY_SPREAD_MS = 5000; // after an admin change, viewers re-read the history within this, not all at once

const idInPath = location.pathname.match(/^\/race\/([^/]+)$/);
const channel = idInPath ? `race:${decodeURIComponent(idInPath[1])}` : "race:current";
const clock = new ServerClock();
let state = emptyRace();
let shown = PAGE;
let past = [];
let historyFor = null; // the race id whose history is shown
let historyTimer = null;
let own = null; // the signed-in viewer's linked player: their row shows their real name

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
  setText($("#min"), race.min_wager ? formatUsd(race.min_wager) : "none");
  setText($("#starts"), fmtTime(race.starts_at));
  setText($("#ends"), fmtTime(race.ends_at));
  renderPrizes(race);
  renderStandings();
  renderWinners();
  renderRecord(race);
  renderClock();
}

function renderRecord(race) {
  const base = `/api/races/${encodeURIComponent(race.id)}`;
  const csv = $("#csv");
  csv.href = `${base}/standings.csv`;
  csv.setAttribute("download", `race-${race.id}-standings.csv`);
  const sha = race.final_sha256 || null;
  $("#final").hidden = !sha;
  $("#final-pending").hidden = Boolean(sha) || race.status === "cancelled";
  setText($("#final-sha"), sha || "");
  $("#final-json").href = `${base}/final.json`;
  setText($("#verify-cmd"), `curl -s ${location.origin}${base}/final.json | sha256sum`);
}

// "tied: shares places 2–3" for a position `tied` players share.
function tieNote(position, tied) {
  return tied > 1 ? `tied: shares places ${position}–${position + tied - 1}` : "";
}

function renderPrizes(race) {
  const prizes = race.prizes_cents || [];
  $("#prizes").replaceChildren(
    ...prizes.map((cents, i) =>
      el("tr", {}, el("td", {}, `#${i + 1}`), el("td", { class: "muted" }, race.split && race.split[i] !== undefined ? pct(race.split[i]) : ""), el("td", {}, formatCents(cents))),
    ),
  );
}

// One row node per player, kept across messages (keyed.js).
const rowNodes = new KeyedNodes((uid) =>
  el(
    "tr",
    { "data-key": uid },
    el("td", { class: "rank" }, el("span", { class: "pill" })),
    el("td", { class: "move" }, el("span")),
    el(
      "td",
      { class: "player" },
      el("a", { href: `/player/${encodeURIComponent(uid)}` }),
      el("span", { class: "tie", title: "Equal amounts (to the cent) share a place and split the prizes of the places they cover" }),
      el("span", { class: "qual", title: "Below the minimum wager" }, "not qualified"),
    ),
    el("td", { class: "amount" }),
    el("td", { class: "gap" }),
    el("td", { class: "prize" }),
  ),
);

function fillStanding(tr, s) {
  const [rank, move, player, amount, gap, prize] = tr.children;
  const m = s.prev_position === undefined ? { kind: "same", text: "" } : movement({ rank: s.position, prev: s.prev_position });
  tr.classList.toggle("unqualified", s.qualified === false);
  const pill = rank.firstChild;
  pill.dataset.top = s.position <= 3 ? String(s.position) : "";
  setText(pill, s.position);
  move.firstChild.className = m.kind;
  setText(move.firstChild, m.text);
  showName(own, tr, player.firstChild, s.uid, s.name);
  const tie = tieNote(s.position, s.tied || 1);
  setText(player.children[1], tie);
  player.children[1].hidden = !tie;
  player.lastChild.hidden = s.qualified !== false;
  setText(amount, formatUsd(s.amount));
  setText(gap, s.gap === null || s.gap === undefined ? "" : s.gap === 0 ? "tied" : `−${formatUsd(s.gap)}`);
  setText(prize, s.prize_cents ? formatCents(s.prize_cents) : "");
  return tr;
}

function renderStandings() {
  const rows = state.standings.slice(0, shown);
  const body = $("#standings");
  rowNodes.keepOnly(rows.map((s) => s.uid));
  flip(body, () => body.replaceChildren(...rows.map((s) => fillStanding(rowNodes.get(s.uid), s))));
  $("#standings-empty").hidden = rows.length > 0;
  $("#more").hidden = state.standings.length <= shown;
}

function renderWinners() {
  const winners = state.winners || (state.race && state.race.winners) || [];
  $("#winners-banner").hidden = !(state.status === "ended" && winners.length);
  // Tied winners share a position and the same prize, so they are all listed: count them.
  const sharing = (w) => winners.filter((x) => x.position === w.position).length;
  $("#winners").replaceChildren(...winners.map((w) => winnerItem(w, sharing(w))));
}

function winnerItem(w, tied = 1) {
  const tie = tieNote(w.position, tied);
  return el(
    "li",
    {},
    el("span", { class: "pill", "data-top": w.position <= 3 ? w.position : "" }, w.position),
    el("a", { class: "who", href: `/player/${encodeURIComponent(w.uid)}` }, w.name),
    tie ? el("span", { class: "tie" }, tie) : null,
    el("span", { class: "muted num" }, formatUsd(w.amount)),
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
  loadHistory(detail.race.id);
}

// ---- the change history (GET /api/races/{id}/audit) -------------------------------------

const ACTIONS = { created: "Created", edited: "Edited", prizes_changed: "Prizes changed", cancelled: "Cancelled", settled: "Settled" };
const FIELDS = { title: "title", description: "description", pool_cents: "prize pool", split: "split", min_wager: "min. wager", starts_at: "start", ends_at: "end" };

// The tooltip: the same moment in UTC, "2026-11-30 06:22:57 UTC".
function utcText(iso) {
  return new Date(iso).toISOString().replace(/\.\d{3}Z$/, " UTC").replace("T", " ");
}

function fieldValue(field, value) {
  if (value === null || value === undefined) return "—";
  if (field === "pool_cents") return formatCents(value);
  if (field === "min_wager") return formatUsd(value);
  if (field === "split") return value.map((n) => Number(Number(n).toFixed(2))).join("/") + "%";
  if (field === "starts_at" || field === "ends_at") return fmtTime(value);
  return `“${value}”`;
}

function changeText(entry) {
  const d = entry.details || {};
  if (entry.action === "created") return `${formatCents(d.pool_cents || 0)} pool, split ${fieldValue("split", d.split || [])}`;
  if (entry.action === "cancelled") return d.status ? `was ${d.status.from}` : "";
  if (entry.action === "settled") return d.final_sha256 ? `final standings SHA-256 ${d.final_sha256.slice(0, 16)}…` : "";
  return Object.entries(d)
    .map(([field, change]) => (field === "description" ? "description changed" : `${FIELDS[field] || field} ${fieldValue(field, change.from)} → ${fieldValue(field, change.to)}`))
    .join("; ");
}

function historyItem(entry) {
  return el(
    "li",
    { "data-action": entry.action },
    el("time", { datetime: entry.at, title: utcText(entry.at) }, stamp.format(new Date(entry.at))),
    el("b", {}, ACTIONS[entry.action] || entry.action),
    el("span", { class: "muted" }, `by ${entry.actor}`),
    el("span", { class: "what" }, changeText(entry)),
  );
}

async function loadHistory(raceId) {
  clearTimeout(historyTimer);
  historyFor = raceId;
  let entries;
  try {
    entries = await api(`/api/races/${encodeURIComponent(raceId)}/audit`);
  } catch {
    return; // the history is extra: the rest of the page does not depend on it
  }
  if (historyFor !== raceId) return; // the page moved on to another race meanwhile
  $("#history").replaceChildren(...entries.map(historyItem));
  $("#history-empty").hidden = entries.length > 0;
}

// An admin changed the race: every viewer re-reads its history, spread over a few seconds.
function historyLater(raceId) {
  clearTimeout(historyTimer);
  historyTimer = setTimeout(() => loadHistory(raceId), Math.random() * HISTORY_SPREAD_MS);
}

const TERMS = ["title", "description", "pool_cents", "split", "min_wager", "starts_at", "ends_at"];
const termsOf = (race) => JSON.stringify(TERMS.map((k) => race[k]));

function followHistory(before, msg) {
  const race = state.race;
  if (!race) return;
  if (String(race.id) !== String(historyFor)) loadHistory(race.id);
  else if (msg.type === "race" && before && String(before.id) === String(race.id) && termsOf(before) !== termsOf(race)) historyLater(race.id);
  else if (msg.type === "status" && msg.status === "cancelled") historyLater(race.id);
}

const presence = bindPresence($("#watching"));

function onMessage(msg) {
  if (presence(msg)) return; // "N watching"
  if (msg.type === "error") {
    if (msg.code === "unknown_channel" && idInPath) loadArchived();
    else showError(msg.message);
    return;
  }
  if (msg.server_now) clock.observe(msg.server_now);
  const before = state.race;
  state = reduceRace(state, msg);
  // The end message carries the hash too: no viewer calls the API when a race ends.
  if (msg.type === "race_ended" && state.race) state = { ...state, race: { ...state.race, final_sha256: msg.final_sha256 || null } };
  followHistory(before, msg);
  if (msg.type === "tick") renderClock();
  else renderRace();
  // The end message carries the winners: the past races gain this one without a request,
  // so a race's end does not send every viewer to the API at the same moment.
  if (msg.type === "race_ended" && state.race) addPast({ ...state.race, status: "ended", winners: msg.winners || [] });
}

function pastCard(race) {
  const winners = (race.winners || []).slice(0, 3);
  return el(
    "article",
    { class: "card" },
    el("h3", {}, el("a", { href: `/race/${encodeURIComponent(race.id)}` }, race.title)),
    el("p", { class: "muted" }, `${fmtTime(race.starts_at)} – ${fmtTime(race.ends_at)} · ${formatCents(race.pool_cents)} pool`),
    winners.length ? el("ol", { class: "winners" }, ...winners.map((w) => winnerItem(w))) : el("p", { class: "muted" }, race.status === "cancelled" ? "Cancelled" : "No qualified winners"),
  );
}

async function loadPast() {
  let data;
  try {
    data = await api(`/api/races?status=ended&limit=${PAST}`);
  } catch {
    $("#past-empty").hidden = false;
    return;
  }
  past = (Array.isArray(data) ? data : data.races || []).slice(0, PAST); // each carries its winners
  renderPast();
}

function addPast(race) {
  past = [race, ...past.filter((r) => r.id !== race.id)].slice(0, PAST);
  renderPast();
}

function renderPast() {
  $("#past").replaceChildren(...past.map(pastCard));
  $("#past-empty").hidden = past.length > 0;
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
ownPlayer().then((player) => {
  own = player;
  if (own) renderStandings();
});
