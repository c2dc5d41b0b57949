// The overlay's URL options: parsed leniently (a typo never breaks a stream), written back minimally.

export const BOARDS = ["today", "weekly", "monthly", "all_time", "race"];
export const THEMES = ["dark", "light", "transparent"];
export const RACES = ["auto", "current", "monthly", "weekly"]; // or a race's id
export const COLUMNS = ["change", "gap", "prize"]; // optional columns, shown in the order given
export const DEFAULTS = Object.freeze({
  board: "monthly",
  top: 10,
  theme: "dark",
  accent: "#f5b700",
  scale: 1,
  timer: true,
  race: "auto",
  hide_idle: 0, // minutes without a change before the panel slides away; 0: never
  short: false,
  cols: Object.freeze([]),
  watching: false,
  sound: false,
  test: false,
});
export const LIMITS = Object.freeze({ top: [1, 50], scale: [0.25, 4], hide_idle: [0.5, 120] });

const clamp = (n, [lo, hi]) => Math.min(hi, Math.max(lo, n));
const OFF = ["0", "false", "no", "off"];

// A switch: absent keeps the default; present is on unless it says 0/false/no/off.
function flag(q, name) {
  const value = q.get(name);
  return value === null ? DEFAULTS[name] : !OFF.includes(value.trim().toLowerCase());
}

// "gap,change", "gap change" (a `+` in a URL), any case; unknown names and repeats dropped.
export function parseColumns(text) {
  const names = String(text || "").toLowerCase().split(/[\s,;]+/);
  return names.filter((name, i) => COLUMNS.includes(name) && names.indexOf(name) === i);
}

export function parseOptions(search) {
  const q = new URLSearchParams(search);
  const opts = { ...DEFAULTS };
  const board = (q.get("board") || "").toLowerCase().replace("-", "_");
  if (BOARDS.includes(board)) opts.board = board;
  const top = Number.parseInt(q.get("top"), 10);
  if (Number.isFinite(top)) opts.top = clamp(top, LIMITS.top);
  const theme = (q.get("theme") || "").toLowerCase();
  if (THEMES.includes(theme)) opts.theme = theme;
  const accent = (q.get("accent") || "").replace(/^#/, "");
  if (/^([0-9a-f]{3}|[0-9a-f]{6})$/i.test(accent)) opts.accent = `#${accent.toLowerCase()}`;
  const scale = Number.parseFloat(q.get("scale"));
  if (Number.isFinite(scale)) opts.scale = clamp(scale, LIMITS.scale);
  opts.timer = flag(q, "timer");
  const race = (q.get("race") || "").toLowerCase();
  if (RACES.includes(race) || /^[1-9][0-9]{0,17}$/.test(race)) opts.race = race;
  // Minutes, decimals allowed ("2.5", "10min"); 0, "off" or junk: never hide. Kept between
  // 30 s (shorter would hide the panel between two syncs) and 2 hours.
  const idle = Number.parseFloat(q.get("hide_idle"));
  if (Number.isFinite(idle) && idle > 0) opts.hide_idle = clamp(Math.round(idle * 100) / 100, LIMITS.hide_idle);
  opts.short = flag(q, "short");
  if (q.has("cols")) opts.cols = parseColumns(q.getAll("cols").join(","));
  opts.watching = flag(q, "watching");
  opts.sound = flag(q, "sound");
  opts.test = flag(q, "test");
  return opts;
}

// The race a board's timer counts down (and `board=race` shows): `race=` when given, else the
// race that matches the board: the monthly race on "This month", the weekly one on "This
// week", and the current race (the one ending soonest) on the others.
const BOARD_RACE = { monthly: "monthly", weekly: "weekly" };

export function raceFor(opts) {
  if (opts.race !== "auto") return opts.race;
  return BOARD_RACE[opts.board] || "current";
}

function written(key, value) {
  if (typeof value === "boolean") return value ? "1" : "0";
  if (key === "accent") return String(value).replace(/^#/, "");
  if (key === "cols") return value.join(",");
  return String(value);
}

// Only what differs from the defaults, in a fixed order; a comma stays a comma (`cols=gap,change`).
export function overlayQuery(opts) {
  const parts = [];
  for (const key of Object.keys(DEFAULTS)) {
    const value = written(key, opts[key] ?? DEFAULTS[key]);
    if (value === written(key, DEFAULTS[key])) continue;
    parts.push(`${key}=${encodeURIComponent(value).replace(/%2C/g, ",")}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}
