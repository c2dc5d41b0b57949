// Client-side board: apply a delta exactly as the server does (server/leaderboard/diff.py).

export function compareRows(a, b) {
  // Amount descending, then uid ascending: the server's tie-break, so ranks agree.
  if (a.amount !== b.amount) return b.amount - a.amount;
  return a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0;
}

export function applyDelta(rows, delta, limit = null) {
  const prevRank = new Map(rows.map((r) => [r.uid, r.rank]));
  const changed = new Map();
  const lifetimes = delta.lifetimes || {}; // all-time USD of the changed rows (tier badges)
  let next;
  if (delta.reset) {
    next = (delta.changes || []).map((c) => ({ uid: c.uid, name: c.name, amount: c.amount, lifetime: lifetimes[c.uid] }));
    prevRank.clear();
  } else {
    const byUid = new Map(rows.map((r) => [r.uid, { uid: r.uid, name: r.name, amount: r.amount, lifetime: r.lifetime }]));
    for (const uid of delta.left || []) byUid.delete(uid);
    for (const c of delta.changes || []) {
      const lifetime = c.uid in lifetimes ? lifetimes[c.uid] : byUid.get(c.uid)?.lifetime;
      byUid.set(c.uid, { uid: c.uid, name: c.name, amount: c.amount, lifetime });
      changed.set(c.uid, c);
    }
    next = [...byUid.values()];
  }
  next.sort(compareRows);
  if (limit) next = next.slice(0, limit);
  next.forEach((row, i) => {
    row.rank = i + 1;
    // A changed row may come from below a limited board: the server knows where it was.
    const c = changed.get(row.uid);
    const before = c && c.prev_rank != null ? c.prev_rank : prevRank.get(row.uid);
    row.prev = before === undefined || (c && c.kind === "entered") ? null : before;
  });
  return next;
}

export function movement(row) {
  if (row.prev === null || row.prev === undefined) return { kind: "new", text: "new" };
  const places = row.prev - row.rank;
  if (places > 0) return { kind: "up", text: `▲${places}` };
  if (places < 0) return { kind: "down", text: `▼${-places}` };
  return { kind: "same", text: "–" };
}

export function formatAge(seconds) {
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${Math.floor(seconds)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} days ago`;
}
