// Player tiers by all-time wagered amount (USD).

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
