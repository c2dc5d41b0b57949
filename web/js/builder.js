// The overlay builder: the form writes the overlay URL and reloads the live preview.

import { api } from "./api.js";
import { $, el, setText } from "./dom.js";
import { DEFAULTS, overlayQuery, parseOptions } from "./overlay-options.js";

const form = $("#form");
const frame = $("#frame");
const preview = $("#preview");

// The extra columns in the order they were ticked (the overlay shows them in that order).
let columns = [];

function fromForm() {
  const data = new FormData(form);
  const flag = (name) => (data.get(name) ? "1" : "0");
  return parseOptions(
    new URLSearchParams({
      board: data.get("board"),
      top: data.get("top"),
      theme: data.get("theme"),
      accent: data.get("accent"),
      scale: data.get("scale"),
      timer: flag("timer"),
      race: data.get("race"),
      hide_idle: data.get("hide_idle") || "0",
      short: flag("short"),
      cols: columns.join(","),
      watching: flag("watching"),
      sound: flag("sound"),
      test: flag("test"),
    }).toString(),
  );
}

function toForm(opts) {
  const f = form.elements;
  f.board.value = opts.board;
  f.top.value = String(opts.top);
  f.theme.value = opts.theme;
  f.accent.value = opts.accent.length === 4 ? `#${[...opts.accent.slice(1)].map((c) => c + c).join("")}` : opts.accent;
  f.scale.value = String(opts.scale);
  f.timer.checked = opts.timer;
  if (/^[0-9]+$/.test(opts.race)) addRaceOption(opts.race, `Race #${opts.race}`);
  f.race.value = opts.race;
  f.hide_idle.value = String(opts.hide_idle);
  f.short.checked = opts.short;
  columns = [...opts.cols];
  for (const box of form.querySelectorAll("input[name=cols]")) box.checked = columns.includes(box.value);
  f.watching.checked = opts.watching;
  f.sound.checked = opts.sound;
  f.test.checked = opts.test;
}

function onColumn(e) {
  const box = e.target;
  if (box.name !== "cols") return;
  columns = columns.filter((c) => c !== box.value);
  if (box.checked) columns.push(box.value);
}

function addRaceOption(id, text) {
  const list = $("#race-list");
  const known = [...list.children].find((o) => o.value === String(id));
  if (known) setText(known, text);
  else list.append(el("option", { value: String(id) }, text));
  list.hidden = false;
}

// Live and upcoming races by number, so a stream can follow one race whatever the board.
async function loadRaces() {
  let races = [];
  try {
    for (const status of ["live", "upcoming"]) races = races.concat((await api(`/api/races?status=${status}&limit=100`)).races);
  } catch {
    return; // the fixed choices still work
  }
  for (const r of races) addRaceOption(r.id, `#${r.id} ${r.title} (${r.status})`);
}

let shownSrc = "";
function update() {
  const opts = fromForm();
  const query = overlayQuery(opts);
  $("#url").value = `${location.origin}/overlay${query}`;
  setText($("#accent-value"), opts.accent);
  setText($("#scale-value"), `${opts.scale}×`);
  history.replaceState(null, "", query || location.pathname);
  const src = `/overlay${query}`;
  if (src !== shownSrc) {
    shownSrc = src;
    frame.src = src;
  }
}

function fit() {
  frame.style.transform = `scale(${preview.clientWidth / 1920})`; // CSSOM, allowed by the CSP
}

async function copy() {
  const url = $("#url");
  try {
    await navigator.clipboard.writeText(url.value);
  } catch {
    url.select();
    document.execCommand("copy"); // older OBS docks and plain http origins
  }
  setText($("#copied"), "Copied. Paste it as the URL of an OBS Browser source.");
}

toForm({ ...DEFAULTS, ...parseOptions(location.search) });
form.addEventListener("input", onColumn); // first: update() reads the columns in tick order
form.addEventListener("input", update);
form.addEventListener("submit", (e) => e.preventDefault());
$("#copy").addEventListener("click", copy);
$("#url").addEventListener("focus", (e) => e.target.select());
new ResizeObserver(fit).observe(preview);
update();
fit();
loadRaces();
