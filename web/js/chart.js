// A player's amount and rank over time as an SVG chart: no library, every node built by hand.
// Two panels on one time axis, amount above and rank below, so the lines never sit on each other.
// History holds changes: given the board's `period`, each value holds until the next change
// (steps), and a day's, week's or month's amount starts again from 0 at its UTC boundary.

import { formatUsdCompact } from "./money.js";

const NS = "http://www.w3.org/2000/svg";
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
// Tick spacings, each at most 2.5x the one before, so any span gets two ticks or more.
const STEPS = [1, 2, 5, 10, 15, 30].map((n) => n * SECOND)
  .concat([1, 2, 5, 10, 15, 30].map((n) => n * MINUTE), [1, 2, 3, 6, 12].map((n) => n * HOUR), [1, 2, 7, 14, 30].map((n) => n * DAY));
const dateFmt = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric" });
const minuteFmt = new Intl.DateTimeFormat("en-US", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const secondFmt = new Intl.DateTimeFormat("en-US", { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

// Ticks at round local times between t0 and t1; the first and each new day carry the date.
export function timeTicks(t0, t1, want = 5) {
  const step = STEPS.find((s) => (t1 - t0) / s <= want) || STEPS[STEPS.length - 1];
  const local = (t) => t - new Date(t).getTimezoneOffset() * MINUTE; // round in the viewer's zone
  const times = [];
  for (let t = Math.ceil(local(t0) / step) * step; t <= local(t1); t += step) times.push(t - (local(t) - t));
  if (times.length < 2) times.splice(0, times.length, ...(t1 > t0 ? [t0, t1] : [t0])); // a span under one step: its ends
  const clock = step < MINUTE ? secondFmt : minuteFmt;
  let lastDay = "";
  return times.map((t) => {
    const d = dateFmt.format(new Date(t));
    const label = step >= DAY ? d : d !== lastDay ? `${d} ${clock.format(new Date(t))}` : clock.format(new Date(t));
    lastDay = d;
    return { t, label };
  });
}

// 0..top in 2-3 round steps that cover `max`: 15,084 -> 0, 10K, 20K.
export function amountScale(max, want = 2) {
  const raw = Math.max(max, 1) / want;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const top = Math.ceil(Math.max(max, 1) / step - 1e-9) * step;
  const ticks = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);
  return { top, ticks };
}

// The UTC window [start, end) of `period` holding time `t` (ms), as the server's periods.py
// has it; null for all_time, which never starts over.
export function periodWindow(period, t) {
  const d = new Date(t);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  if (period === "today") {
    const start = Date.UTC(y, m, d.getUTCDate());
    return [start, start + DAY];
  }
  if (period === "weekly") {
    const start = Date.UTC(y, m, d.getUTCDate()) - ((d.getUTCDay() + 6) % 7) * DAY; // Monday
    return [start, start + 7 * DAY];
  }
  if (period === "monthly") return [Date.UTC(y, m, 1), Date.UTC(y, m + 1, 1)];
  return null;
}

// Pure: pixel geometry for points [{at, rank, amount}], oldest first. With `period`, lines are
// steps and start over at the period's boundaries; without, straight from point to point.
export function chartGeometry(points, { width = 760, height = 300, pad = { l: 64, r: 20, t: 14, b: 28 }, gap = 26, rankShare = 0.3, period = null } = {}) {
  const pts = points.map((p) => ({ t: Date.parse(p.at), rank: p.rank, amount: p.amount })).filter((p) => !Number.isNaN(p.t));
  pts.sort((a, b) => a.t - b.t);
  const w = width - pad.l - pad.r;
  const hRank = (height - pad.t - pad.b - gap) * rankShare;
  const hAmount = height - pad.t - pad.b - gap - hRank;
  const rankTop = pad.t + hAmount + gap;
  const t0 = pts.length ? pts[0].t : 0;
  const t1 = pts.length ? pts[pts.length - 1].t : 1;
  const scale = amountScale(Math.max(0, ...pts.map((p) => p.amount)));
  const ranks = pts.map((p) => p.rank).filter((r) => r !== null && r !== undefined);
  const maxRank = Math.max(2, ...ranks);
  const x = (t) => pad.l + (t1 === t0 ? w / 2 : ((t - t0) / (t1 - t0)) * w);
  const yAmount = (a) => pad.t + hAmount - (a / scale.top) * hAmount;
  const yRank = (r) => rankTop + ((r - 1) / (maxRank - 1)) * hRank; // rank 1 at the panel's top
  const f = (n) => n.toFixed(1);
  const steps = period !== null;
  // Where the period started over between two points (null: it did not): the end of the
  // earlier point's window, if the later point lies beyond it.
  const restart = (a, b) => {
    const w = steps ? periodWindow(period, a.t) : null;
    return w && b.t >= w[1] ? w[1] : null;
  };
  let amountPath = "";
  pts.forEach((p, i) => {
    const y = f(yAmount(p.amount));
    if (!i) {
      amountPath += `M${f(x(p.t))},${y}`;
      return;
    }
    const q = pts[i - 1];
    const over = restart(q, p);
    if (over !== null) amountPath += `H${f(x(over))}V${f(yAmount(0))}`; // back to 0 at the boundary
    amountPath += steps ? `H${f(x(p.t))}V${y}` : `L${f(x(p.t))},${y}`;
  });
  const base = pad.t + hAmount;
  const areaPath = pts.length ? `${amountPath}L${f(x(t1))},${f(base)}L${f(x(t0))},${f(base)}Z` : "";
  let rankPath = "";
  let pen = false; // off the board breaks the line
  pts.forEach((p, i) => {
    const over = i ? restart(pts[i - 1], p) : null;
    if (pen && over !== null) {
      rankPath += `H${f(x(over))}`; // off the board when the period starts over
      pen = false;
    }
    if (p.rank === null || p.rank === undefined) {
      pen = false;
      return;
    }
    const y = f(yRank(p.rank));
    rankPath += pen ? (steps ? `H${f(x(p.t))}V${y}` : `L${f(x(p.t))},${y}`) : `M${f(x(p.t))},${y}`;
    pen = true;
  });
  const xTicks = pts.length ? timeTicks(t0, t1).map((tick) => ({ x: x(tick.t), label: tick.label })) : [];
  const amountTicks = scale.ticks.map((v) => ({ y: yAmount(v), label: formatUsdCompact(v) }));
  const rankTicks = [...new Set([1, Math.round((maxRank + 1) / 2), maxRank])].map((r) => ({ y: yRank(r), label: `#${r}` }));
  const last = pts[pts.length - 1];
  const lastDot = last ? { x: x(last.t), y: yAmount(last.amount) } : null;
  const panels = { amount: { top: pad.t, bottom: base }, rank: { top: rankTop, bottom: rankTop + hRank } };
  return { width, height, pad, panels, amountPath, areaPath, rankPath, xTicks, amountTicks, rankTicks, lastDot, count: pts.length };
}

function node(tag, attrs, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

export function drawChart(svg, points, options) {
  const g = chartGeometry(points, options);
  svg.setAttribute("viewBox", `0 0 ${g.width} ${g.height}`);
  const right = g.width - g.pad.r;
  const parts = [];
  for (const t of g.amountTicks) {
    parts.push(node("line", { class: "grid-line", x1: g.pad.l, x2: right, y1: t.y, y2: t.y }));
    parts.push(node("text", { class: "axis", x: g.pad.l - 8, y: t.y + 4, "text-anchor": "end" }, t.label));
  }
  for (const t of g.rankTicks) {
    parts.push(node("line", { class: "grid-line faint", x1: g.pad.l, x2: right, y1: t.y, y2: t.y }));
    parts.push(node("text", { class: "axis rank-axis", x: g.pad.l - 8, y: t.y + 4, "text-anchor": "end" }, t.label));
  }
  parts.push(node("text", { class: "panel-title", x: g.pad.l, y: g.panels.rank.top - 8 }, "Rank"));
  const bottom = g.panels.rank.bottom;
  for (const t of g.xTicks) {
    parts.push(node("line", { class: "tick", x1: t.x, x2: t.x, y1: bottom, y2: bottom + 4 }));
    const anchor = t.x > right - 40 ? "end" : "middle"; // the last label stays inside the chart
    parts.push(node("text", { class: "axis", x: t.x, y: g.height - 6, "text-anchor": anchor }, t.label));
  }
  if (g.areaPath) parts.push(node("path", { class: "amount-area", d: g.areaPath }));
  if (g.amountPath) parts.push(node("path", { class: "amount-line", d: g.amountPath }));
  if (g.rankPath) parts.push(node("path", { class: "rank-line", d: g.rankPath }));
  if (g.lastDot) parts.push(node("circle", { class: "dot", cx: g.lastDot.x, cy: g.lastDot.y, r: 4 }));
  svg.replaceChildren(...parts);
  return g;
}
