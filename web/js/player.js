// A player's page: standings in every period, the current race, and the history chart.

import { api } from "./api.js";
import { formatAmount } from "./board.js";
import { drawChart } from "./chart.js";
import { $, el, setText } from "./dom.js";
import { formatCents } from "./race-feed.js";
import { LiveSocket } from "./socket.js";
import { showConnection } from "./connection-badge.js";
import { tierFor } from "./tiers.js";

const LABELS = { today: "Today", weekly: "This week", monthly: "This month", all_time: "All time" };
const uid = decodeURIComponent(location.pathname.split("/").pop() || "");
let player = null;
let chartPeriod = "monthly";

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
    el("div", { class: "amt" }, formatAmount(s.amount)),
  );
}

function render() {
  document.title = `${player.name} — Goated Live`;
  setText($("#name"), player.name);
  setText($("#avatar"), (player.name.trim()[0] || "?").toUpperCase());
  const allTime = player.standings.find((s) => s.period === "all_time");
  const tier = tierFor(allTime ? allTime.amount : 0);
  $("#tier").dataset.tier = tier.name.toLowerCase();
  setText($("#tier"), tier.name);
  $("#gone").hidden = !player.gone;
  $("#periods").replaceChildren(...player.standings.map(periodCard));
  renderChart();
  $("#profile").hidden = false;
}

function renderChart() {
  for (const tab of $("#chart-tabs").children) tab.setAttribute("aria-selected", String(tab.dataset.period === chartPeriod));
  const points = player.history.filter((h) => h.period === chartPeriod);
  const now = player.standings.find((s) => s.period === chartPeriod);
  // History holds changes only: carry the current standing to the present.
  if (points.length && now) points.push({ period: chartPeriod, rank: now.rank, amount: now.amount, at: new Date().toISOString() });
  $("#chart-empty").hidden = points.length > 0;
  $("#chart").hidden = points.length === 0;
  drawChart($("#chart"), points);
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
  setText($("#race-amount"), formatAmount((standing && standing.amount) || 0));
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
socket.subscribe("leaderboard:all_time", (msg) => msg.type === "delta" && refresh(), { limit: 1 });
socket.start();
loadPlayer();
loadRace();
