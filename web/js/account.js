// The account page: Sign in with Telegram (Telegram's widget, redirect mode), then the linked player's places.

import { api } from "./api.js";
import { formatCents, formatUsd } from "./money.js";
import { $, el, setText } from "./dom.js";

const WIDGET = "https://telegram.org/js/telegram-widget.js?22";
const LABELS = { today: "Today", weekly: "This week", monthly: "This month", all_time: "All time" };

function say(text) {
  setText($("#message"), text);
  $("#message").hidden = !text;
}

// The widget is Telegram's own script; it draws its button next to the script element.
// Redirect mode (data-auth-url) needs no callback code on this page, so the policy stays
// free of inline scripts and eval.
function mountWidget(config) {
  const script = document.createElement("script");
  script.async = true;
  script.src = WIDGET;
  script.dataset.telegramLogin = config.bot_username;
  script.dataset.size = "large";
  script.dataset.authUrl = new URL(config.auth_url, location.origin).href;
  script.dataset.requestAccess = "write"; // lets the bot send alerts to you
  $("#widget").replaceChildren(script);
}

async function showSignIn() {
  $("#signin").hidden = false;
  $("#account").hidden = true;
  $("#logout").hidden = true;
  const config = await api("/api/auth/telegram/config");
  if (!config.enabled) {
    setText($("#widget"), "Sign in with Telegram is not available on this server yet.");
    return;
  }
  mountWidget(config);
}

function positionCard(p) {
  const place = p.rank ? `#${p.rank}` : "—";
  const detail = p.rank ? `${formatUsd(p.amount)} of ${p.total} players` : "not on this board";
  return el(
    "div",
    { class: "card period" },
    el("span", { class: "label" }, LABELS[p.period] || p.period),
    el("div", { class: "value" }, place),
    el("div", { class: "muted" }, detail),
  );
}

function showMe(me) {
  $("#signin").hidden = true;
  $("#account").hidden = false;
  $("#logout").hidden = false;
  setText($("#who"), `Hi ${me.telegram.name}`);
  const link = me.link;
  if (!link) {
    setText($("#link-state"), "No Goated player linked yet: send /link <your Goated name> to our Telegram bot, and an admin confirms it.");
  } else if (link.status === "pending") {
    setText($("#link-state"), `Your request to link ${link.player_name} (#${link.id}) is waiting for an admin.`);
  } else {
    setText($("#link-state"), `Linked to ${link.player_name}.`);
  }
  $("#positions").replaceChildren(...(me.positions || []).map(positionCard));
  const race = me.race;
  $("#race").hidden = !race;
  if (race) {
    setText($("#race-title"), race.title);
    const line = race.position
      ? `#${race.position} · ${formatUsd(race.amount)} wagered${race.gap ? ` · ${formatUsd(race.gap)} behind the place above` : ""}${race.prize_cents ? ` · prize ${formatCents(race.prize_cents)}` : ""}`
      : "No wagers in this race yet.";
    setText($("#race-line"), line);
  }
}

async function load() {
  if (new URLSearchParams(location.search).get("login") === "refused") {
    say("Telegram sign-in did not check out (or is more than a day old). Please try again.");
  }
  try {
    const me = await api("/api/me");
    if (me.signed_in) showMe(me);
    else await showSignIn();
  } catch (err) {
    say(`Could not load your account: ${err.message}`);
  }
}

$("#logout").addEventListener("click", async () => {
  await api("/api/auth/logout", { method: "POST", body: {} }); // JSON, so no other site can send it
  say("");
  await showSignIn();
});
load();
