// The overlay builder: the form writes the overlay URL and reloads the live preview.

import { $, setText } from "./dom.js";
import { DEFAULTS, overlayQuery, parseOptions } from "./overlay-options.js";

const form = $("#form");
const frame = $("#frame");
const preview = $("#preview");

function fromForm() {
  const data = new FormData(form);
  return parseOptions(
    new URLSearchParams({
      board: data.get("board"),
      top: data.get("top"),
      theme: data.get("theme"),
      accent: data.get("accent"),
      scale: data.get("scale"),
      timer: data.get("timer") ? "1" : "0",
    }).toString(),
  );
}

function toForm(opts) {
  form.elements.board.value = opts.board;
  form.elements.top.value = String(opts.top);
  form.elements.theme.value = opts.theme;
  form.elements.accent.value = opts.accent.length === 4 ? `#${[...opts.accent.slice(1)].map((c) => c + c).join("")}` : opts.accent;
  form.elements.scale.value = String(opts.scale);
  form.elements.timer.checked = opts.timer;
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
form.addEventListener("input", update);
form.addEventListener("submit", (e) => e.preventDefault());
$("#copy").addEventListener("click", copy);
$("#url").addEventListener("focus", (e) => e.target.select());
new ResizeObserver(fit).observe(preview);
update();
fit();
