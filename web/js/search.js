// The search key, as server/leaderboard/search.py makes it: NFKC, case-folded, every run of
// whitespace one space, trimmed. JavaScript has no casefold: upper- then lower-casing folds
// what matters here (ß -> ss), and final sigma is folded by hand, as casefold does.
export function searchKey(text) {
  const folded = String(text).normalize("NFKC").toUpperCase().toLowerCase().replace(/ς/g, "σ");
  return folded.normalize("NFKC").replace(/\s+/gu, " ").trim();
}

// The rule: the query's key is part of the name's key; a blank query matches everyone.
export function matches(queryKey, nameKey) {
  return nameKey.includes(queryKey);
}
