// The admin console: the token lives in sessionStorage; races are created, edited and cancelled here.
// GET /api/admin/status first: with no ADMIN_TOKEN the page says the API is off instead of asking for one.

import { ApiError, api } from "./api.js";
import { formatCents } from "./money.js";
import { $, el, setText } from "./dom.js";

const KEY = "goated.adminToken";
const when = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const form = $("#race-form");
let races = [];

const token = () => sessionStorage.getItem(KEY);

function show() {
  const signedIn = Boolean(token());
  $("#login").hidden = signedIn;
  $("#console").hidden = !signedIn;
  $("#logout").hidden = !signedIn;
  if (signedIn) {
    loadRaces();
    loadLinks();
  }
}

function say(text, ok = false) {
  const box = $("#message");
  box.classList.toggle("ok", ok);
  setText(box, text);
  box.hidden = !text;
}

async function admin(path, options = {}) {
  try {
    return await api(path, { ...options, token: token() });
  } catch (err) {
    if (err instanceof ApiError && err.status === 503) say(`The admin API is off: ${err.message}`);
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      sessionStorage.removeItem(KEY);
      show();
      setText($("#login .sub"), "That token was refused. Enter the server's ADMIN_TOKEN.");
    }
    throw err;
  }
}

// datetime-local <-> ISO UTC
const toLocalInput = (iso) => {
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
};
const fromLocalInput = (value) => new Date(value).toISOString();

function raceRow(race) {
  const open = race.status === "upcoming" || race.status === "live";
  const edit = el("button", { class: "btn ghost small", type: "button" }, "Edit");
  edit.addEventListener("click", () => fillForm(race));
  const cancel = el("button", { class: "btn danger small", type: "button" }, "Cancel");
  cancel.addEventListener("click", () => cancelRace(race));
  return el(
    "tr",
    { "data-key": race.id },
    el("td", { class: "muted" }, race.id),
    el("td", { class: "title" }, el("a", { href: `/race/${encodeURIComponent(race.id)}` }, race.title)),
    el("td", {}, el("span", { class: "status", "data-status": race.status }, race.status)),
    el("td", {}, when.format(new Date(race.starts_at))),
    el("td", {}, when.format(new Date(race.ends_at))),
    el("td", { class: "amount" }, formatCents(race.pool_cents)),
    el("td", {}, el("div", { class: "actions" }, open ? edit : null, open ? cancel : null)),
  );
}

async function loadRaces() {
  try {
    const data = await api("/api/races?limit=100");
    races = Array.isArray(data) ? data : data.races || data.items || [];
  } catch (err) {
    say(`Could not load races: ${err.message}`);
    return;
  }
  $("#races").replaceChildren(...races.map(raceRow));
  $("#races-empty").hidden = races.length > 0;
}

function fillForm(race) {
  const f = form.elements;
  f.id.value = race.id;
  f.kind.disabled = true;
  f.title.value = race.title;
  f.kind.value = race.kind;
  f.starts_at.value = toLocalInput(race.starts_at);
  f.ends_at.value = toLocalInput(race.ends_at);
  f.pool.value = (race.pool_cents / 100).toFixed(2);
  f.split.value = (race.split || []).join(",");
  f.min_wager.value = race.min_wager || 0;
  f.description.value = race.description || "";
  setText($("#form-title"), `Edit race #${race.id}`);
  setText($("#save"), "Save changes");
  $("#new").hidden = false;
  form.scrollIntoView({ behavior: "smooth", block: "start" });
}

function resetForm() {
  form.reset();
  form.elements.id.value = "";
  form.elements.kind.disabled = false;
  setText($("#form-title"), "New race");
  setText($("#save"), "Create race");
  $("#new").hidden = true;
}

// An edit sends only what changed: a live race refuses changes to its terms.
function changedFields(body, race) {
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const out = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === "kind") continue; // fixed once created
    const before = key.endsWith("_at") ? new Date(race[key]).toISOString() : race[key];
    if (!same(value, before)) out[key] = value;
  }
  return out;
}

function formBody() {
  const f = form.elements;
  return {
    title: f.title.value.trim(),
    kind: f.kind.value,
    starts_at: fromLocalInput(f.starts_at.value),
    ends_at: fromLocalInput(f.ends_at.value),
    pool_cents: Math.round(Number(f.pool.value) * 100),
    split: f.split.value.split(",").map((s) => s.replace("%", "").trim()).filter(Boolean).map(Number),
    min_wager: Number(f.min_wager.value || 0),
    description: f.description.value.trim(),
  };
}

async function save(event) {
  event.preventDefault();
  const id = form.elements.id.value;
  try {
    const body = formBody();
    const editing = races.find((r) => String(r.id) === id);
    if (id) await admin(`/api/admin/races/${encodeURIComponent(id)}`, { method: "PATCH", body: changedFields(body, editing || {}) });
    else await admin("/api/admin/races", { method: "POST", body });
    say(id ? `Race #${id} saved.` : "Race created.", true);
    resetForm();
    loadRaces();
  } catch (err) {
    say(`Not saved: ${err.message}`);
  }
}

async function cancelRace(race) {
  if (!confirm(`Cancel "${race.title}"? Viewers see it as cancelled and no prizes are paid.`)) return;
  try {
    await admin(`/api/admin/races/${encodeURIComponent(race.id)}/cancel`, { method: "POST" });
    say(`Race #${race.id} cancelled.`, true);
    loadRaces();
  } catch (err) {
    say(`Not cancelled: ${err.message}`);
  }
}

async function forceSync() {
  const button = $("#sync");
  button.disabled = true;
  setText($("#sync-result"), "syncing…");
  try {
    const result = await admin("/api/admin/sync", { method: "POST" });
    const status = result && result.status ? result.status : "done";
    setText($("#sync-result"), status === "ok" ? `ok: board version ${result.seq ?? "?"}` : `${status}${result && result.error ? `: ${result.error}` : ""}`);
  } catch (err) {
    setText($("#sync-result"), `failed: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

// ---- Telegram link requests (GET/POST /api/admin/links) ----

function linkRow(link) {
  const approve = el("button", { class: "btn small", type: "button" }, "Approve");
  approve.addEventListener("click", () => decideLink(link, "approve"));
  const reject = el("button", { class: "btn danger small", type: "button" }, "Reject");
  reject.addEventListener("click", () => decideLink(link, "reject"));
  return el(
    "tr",
    { "data-key": link.id },
    el("td", { class: "muted" }, link.id),
    el("td", {}, link.telegram_name, el("div", { class: "muted" }, `id ${link.telegram_id}`)),
    el("td", { class: "title" }, el("a", { href: `/player/${encodeURIComponent(link.uid)}` }, link.player_name)),
    el("td", {}, when.format(new Date(link.requested_at))),
    el("td", {}, el("div", { class: "actions" }, approve, reject)),
  );
}

async function loadLinks() {
  let links = [];
  try {
    links = (await admin("/api/admin/links?status=pending")).links || [];
  } catch (err) {
    say(`Could not load link requests: ${err.message}`);
    return;
  }
  $("#links").replaceChildren(...links.map(linkRow));
  $("#links-empty").hidden = links.length > 0;
}

async function decideLink(link, decision) {
  try {
    await admin(`/api/admin/links/${encodeURIComponent(link.id)}/${decision}`, { method: "POST" });
    say(`Link request #${link.id} ${decision === "approve" ? "approved" : "rejected"}.`, true);
  } catch (err) {
    say(`Not ${decision === "approve" ? "approved" : "rejected"}: ${err.message}`);
  }
  loadLinks();
}

// The demo prints /admin#token=…: take the token into this tab, and out of the address bar and history.
function adoptLinkToken() {
  const given = new URLSearchParams(location.hash.slice(1)).get("token");
  if (!given) return;
  sessionStorage.setItem(KEY, given);
  history.replaceState(null, "", location.pathname + location.search);
}

async function start() {
  adoptLinkToken();
  let status;
  try {
    status = await api("/api/admin/status");
  } catch (err) {
    setText($("#login .sub"), `Could not ask the server whether the admin API is on (${err.message}). Enter the server's ADMIN_TOKEN.`);
    show();
    return;
  }
  if (!status.enabled) {
    sessionStorage.removeItem(KEY);
    $("#off").hidden = false;
    return;
  }
  if (status.demo) {
    setText($("#login .sub"), "Demo mode: enter the admin token that goated serve printed when it started (or open the Admin link it printed; a token you set in ADMIN_TOKEN works too). It stays in this tab only.");
  }
  show();
}

$("#login").addEventListener("submit", (e) => {
  e.preventDefault();
  const value = $("#token").value.trim();
  if (!value) return;
  sessionStorage.setItem(KEY, value);
  $("#token").value = "";
  show();
});
$("#logout").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  show();
});
form.addEventListener("submit", save);
$("#new").addEventListener("click", resetForm);
$("#refresh").addEventListener("click", loadRaces);
$("#sync").addEventListener("click", forceSync);
$("#links-refresh").addEventListener("click", loadLinks);
start();
