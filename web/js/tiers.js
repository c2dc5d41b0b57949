// Player tiers by all-time wagered amount (USD): a player's level, the same on every board.

import { formatUsd, formatUsdCompact } from "./money.js";

export const TIERS = Object.freeze([
  { name: "Copper", min: 0 },
  { name: "Bronze", min: 10_000 },
  { name: "Silver", min: 40_000 },
  { name: "Gold", min: 100_000 },
  { name: "Platinum", min: 450_000 },
  { name: "Pearl", min: 1_500_000 },
  { name: "Sapphire", min: 3_000_000 },
  { name: "Emerald", min: 7_000_000 },
  { name: "Diamond", min: 20_000_000 },
]);

// The tier an all-time amount reaches, and the next one (null at the top).
export function tierFor(amount) {
  let i = 0;
  while (i + 1 < TIERS.length && amount >= TIERS[i + 1].min) i++;
  return { ...TIERS[i], next: TIERS[i + 1] || null };
}

// What the pages print next to the badges, from the same table tierFor reads.
export function tierLegend() {
  const steps = TIERS.map((t, i) => (i === 0 ? `${t.name} under ${formatUsdCompact(TIERS[1].min)}` : `${t.name} ${formatUsdCompact(t.min)}`));
  return `Tier: each player's level by all-time wagers, on every board. ${steps.join(" · ")}`;
}

// A badge's tooltip: why this tier, and what the next one takes.
export function tierTitle(amount) {
  const t = tierFor(amount);
  const next = t.next ? `; ${t.next.name} from ${formatUsdCompact(t.next.min)}` : "";
  return `${t.name}: ${formatUsd(amount)} wagered all-time${next}`;
}
