// A player's page: standings in every period, the current race, and the history chart.

import { api } from "./api.js";
import { drawChart } from "./chart.js";
import { $, el, setText } from "./dom.js";
import { formatCents, formatUsd, formatUsdCompact } from "./money.js";
import { LiveSocket } from "./socket.js";
import { showConnection } from "./connection-badge.js";
import { tierFor, tierTitle } from "./tiers.js";
import { isOwn, ownPlayer } from "./me.js";

const LABELS = { today: "Today", weekly: "This week", monthly: "This month", all_time: "All time" };
const uid = decodeURIComponent(location.pathname.split("/").pop() || "");
let player = null;
let own = null; // the signed-in viewer's linked player: on their own page, their real name
let chartPeriod = "monthly";
let syncedAt = null; // the board's last sync (the app's clock, from the socket): the chart's present

function fail(message) {
  const box = $("#error");
  setText(box, message);
  box.hidden = false;
}

function periodCard(s) {
  const moved = s.rank !== null && s.prev_rank !== null ? s.prev_rank - s.rank : 0;
  const move = moved > 0 ? el("span", { class: "up" }, ` ▲${moved}`) : moved < 0 ? el("span", { class: "down" }, ` ▼${-moved}`) : null;
  return el(
    "div",
    { class: "card period", "data-period": s.period },
    el("span", { class: "label" }, LABELS[s.period] || s.period),
    el("div", { class: "big" }, s.rank === null ? "—" : `#${s.rank}`, move),
    el("div", { class: "amt" }, formatUsd(s.amount)),
  );
}

function render() {
  const name = isOwn(own, uid) ? own.name : player.name;
  document.title = `${name} — Goated Live`;
  setText($("#name"), name);
  $("#name").classList.toggle("me", isOwn(own, uid));
  setText($("#avatar"), (name.trim()[0] || "?").toUpperCase());
  const allTime = player.standings.find((s) => s.period === "all_time");
  const lifetime = allTime ? allTime.amount : 0;
  const tier = tierFor(lifetime);
  $("#tier").dataset.tier = tier.name.toLowerCase();
  setText($("#tier"), tier.name);
  $("#tier").title = tierTitle(lifetime);
  setText($("#tier-note"), `level by all-time wagers${tier.next ? `; ${tier.next.name} from ${formatUsdCompact(tier.next.min)}` : ""}`);
  $("#gone").hidden = !player.gone;
  $("#periods").replaceChildren(...player.standings.map(periodCard));
  renderChart();
  $("#profile").hidden = false;
}

function renderChart() {
  for (const tab of $("#chart-tabs").children) tab.setAttribute("aria-selected", String(tab.dataset.period === chartPeriod));
  const points = player.history.filter((h) => h.period === chartPeriod);
  const now = player.standings.find((s) => s.period === chartPeriod);
  // History holds changes only: carry the current standing to the board's last sync (the
  // server's time, not this browser's clock), or to the last change until it is known.
  const last = points.length ? points[points.length - 1].at : null;
  const present = syncedAt && last && Date.parse(syncedAt) > Date.parse(last) ? syncedAt : last;
  if (points.length && now) points.push({ period: chartPeriod, rank: now.rank, amount: now.amount, at: present });
  $("#chart-empty").hidden = points.length > 0;
  $("#chart").hidden = points.length === 0;
  drawChart($("#chart"), points, { period: chartPeriod });
}

async function loadPlayer() {
  try {
    player = await api(`/api/players/${encodeURIComponent(uid)}`);
    $("#error").hidden = true;
    render();
  } catch (err) {
    fail(err.status === 404 ? "No player with that id is on any board." : `Could not load the player: ${err.message}`);
  }
}

async function loadRace() {
  let race;
  try {
    race = await api("/api/races/current");
  } catch {
    return; // no race running (or races not served): the card stays hidden
  }
  race = race && race.race !== undefined ? race.race : race;
  if (!race || !race.id) return;
  let mine;
  try {
    mine = await api(`/api/races/${encodeURIComponent(race.id)}/players/${encodeURIComponent(uid)}`);
  } catch {
    return;
  }
  const standing = mine && (mine.standing || mine);
  setText($("#race-title"), race.title);
  $("#race-title").href = `/race/${encodeURIComponent(race.id)}`;
  setText($("#race-pos"), standing && standing.position ? `#${standing.position}` : "not placed");
  setText($("#race-amount"), formatUsd((standing && standing.amount) || 0));
  setText($("#race-prize"), standing && standing.prize_cents ? formatCents(standing.prize_cents) : "—");
  $("#race").hidden = false;
}

for (const tab of $("#chart-tabs").children) {
  tab.addEventListener("click", () => {
    chartPeriod = tab.dataset.period;
    if (player) renderChart();
  });
}

// Any new sync may move this player: refetch the one small record, not the boards.
let pending = null;
function refresh() {
  clearTimeout(pending);
  pending = setTimeout(() => {
    loadPlayer();
    loadRace();
  }, 300);
}

const socket = new LiveSocket({ onState: (state) => showConnection($("#conn"), state) });
socket.subscribe(
  "leaderboard:all_time",
  (msg) => {
    if (msg.synced_at) syncedAt = msg.synced_at;
    if (msg.type === "delta") refresh();
    else if (player) renderChart();
  },
  { limit: 1 },
);
socket.start();
loadPlayer();
loadRace();
ownPlayer().then((mine) => {
  own = mine;
  if (own && player) render();
});
