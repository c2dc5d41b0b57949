// A player's amount and rank over time as an SVG line chart: no library, every node built by hand.

const NS = "http://www.w3.org/2000/svg";
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
const day = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric" });
const hour = new Intl.DateTimeFormat("en-US", { hour: "2-digit", minute: "2-digit" });
const second = new Intl.DateTimeFormat("en-US", { hour: "2-digit", minute: "2-digit", second: "2-digit" });

// Pure: pixel geometry for points [{at, rank, amount}], oldest first.
export function chartGeometry(points, { width = 760, height = 260, pad = { l: 56, r: 44, t: 14, b: 28 } } = {}) {
  const pts = points.map((p) => ({ t: Date.parse(p.at), rank: p.rank, amount: p.amount })).filter((p) => !Number.isNaN(p.t));
  pts.sort((a, b) => a.t - b.t);
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const t0 = pts.length ? pts[0].t : 0;
  const t1 = pts.length ? pts[pts.length - 1].t : 1;
  const maxAmount = Math.max(1, ...pts.map((p) => p.amount));
  const ranks = pts.map((p) => p.rank).filter((r) => r !== null && r !== undefined);
  const maxRank = Math.max(2, ...ranks);
  const x = (t) => pad.l + (t1 === t0 ? w / 2 : ((t - t0) / (t1 - t0)) * w);
  const yAmount = (a) => pad.t + h - (a / maxAmount) * h;
  const yRank = (r) => pad.t + ((r - 1) / (maxRank - 1)) * h; // rank 1 at the top
  const f = (n) => n.toFixed(1);
  const amountPath = pts.map((p, i) => `${i ? "L" : "M"}${f(x(p.t))},${f(yAmount(p.amount))}`).join("");
  const areaPath = pts.length ? `${amountPath}L${f(x(t1))},${f(pad.t + h)}L${f(x(t0))},${f(pad.t + h)}Z` : "";
  let rankPath = "";
  let pen = false; // off the board breaks the line
  for (const p of pts) {
    if (p.rank === null || p.rank === undefined) {
      pen = false;
      continue;
    }
    rankPath += `${pen ? "L" : "M"}${f(x(p.t))},${f(yRank(p.rank))}`;
    pen = true;
  }
  const span = t1 - t0;
  const fmt = span > 2 * 86400e3 ? day : span > 600e3 ? hour : second;
  const xTicks = pts.length ? [0, 0.5, 1].map((k) => ({ x: pad.l + k * w, label: fmt.format(new Date(t0 + k * span)) })) : [];
  const amountTicks = [0, 0.5, 1].map((k) => ({ y: yAmount(k * maxAmount), label: `$${compact.format(k * maxAmount)}` }));
  const rankTicks = [...new Set([1, Math.round((maxRank + 1) / 2), maxRank])].map((r) => ({ y: yRank(r), label: `#${r}` }));
  const last = pts[pts.length - 1];
  const lastDot = last ? { x: x(last.t), y: yAmount(last.amount) } : null;
  return { width, height, pad, amountPath, areaPath, rankPath, xTicks, amountTicks, rankTicks, lastDot, count: pts.length };
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
  const parts = [];
  for (const t of g.amountTicks) {
    parts.push(node("line", { class: "grid-line", x1: g.pad.l, x2: g.width - g.pad.r, y1: t.y, y2: t.y }));
    parts.push(node("text", { class: "axis", x: g.pad.l - 8, y: t.y + 4, "text-anchor": "end" }, t.label));
  }
  for (const t of g.rankTicks) parts.push(node("text", { class: "axis", x: g.width - g.pad.r + 8, y: t.y + 4 }, t.label));
  for (const t of g.xTicks) parts.push(node("text", { class: "axis", x: t.x, y: g.height - 6, "text-anchor": "middle" }, t.label));
  if (g.areaPath) parts.push(node("path", { class: "amount-area", d: g.areaPath }));
  if (g.amountPath) parts.push(node("path", { class: "amount-line", d: g.amountPath }));
  if (g.rankPath) parts.push(node("path", { class: "rank-line", d: g.rankPath }));
  if (g.lastDot) parts.push(node("circle", { class: "dot", cx: g.lastDot.x, cy: g.lastDot.y, r: 4 }));
  svg.replaceChildren(...parts);
  return g;
}
