// The overlay's URL options: parsed leniently (a typo never breaks a stream), written back minimally.

export const BOARDS = ["today", "weekly", "monthly", "all_time", "race"];
export const THEMES = ["dark", "light", "transparent"];
export const DEFAULTS = Object.freeze({ board: "monthly", top: 10, theme: "dark", accent: "#f5b700", scale: 1, timer: true });
export const LIMITS = Object.freeze({ top: [1, 50], scale: [0.25, 4] });

const clamp = (n, [lo, hi]) => Math.min(hi, Math.max(lo, n));

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
  const timer = q.get("timer");
  if (timer !== null) opts.timer = !["0", "false", "no", "off"].includes(timer.toLowerCase());
  return opts;
}

export function overlayQuery(opts) {
  const q = new URLSearchParams();
  for (const key of Object.keys(DEFAULTS)) {
    const value = opts[key];
    if (value === DEFAULTS[key]) continue;
    if (key === "timer") q.set(key, value ? "1" : "0");
    else if (key === "accent") q.set(key, String(value).replace(/^#/, ""));
    else q.set(key, String(value));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}
