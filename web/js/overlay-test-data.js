// The overlay's test data (`test=1`): made-up players and a made-up race, sent to the overlay's own
// handlers as the server's messages would be, so a streamer can set up a scene before any race
// exists. The overlay labels it TEST DATA; nothing is fetched and no socket is opened.

const NAMES = [
  "LuckyLuke", "moonshot77", "HighRollerHank", "spin2win", "NeonViper", "degen_dave", "CashCow",
  "tiltproof", "ZeroEdge", "SlotSensei", "bananza", "qwertyJ", "GoatMode", "RiskItAll", "PlinkoPete",
  "crashout", "BigBlindBen", "minesweeper", "DiceDuchess", "RouletteRae", "stakehouse", "allin_alex",
  "jackpotJo", "MultiplierMo", "greenscreen",
];
const PLAYERS = 55; // enough for top=50 and the few rows kept below it
const MOVE_EVERY_MS = 6000;
const WATCHERS_EVERY_MS = 10_000;
const RACE_MS = 3 * 60_000; // short, so the end (winners, `sound=1`) comes round while you set up
const WINNERS_MS = 30_000;
const PRIZES_CENTS = [250_000, 125_000, 75_000, 50_000]; // a $5,000 race, 50/25/15/10

// A small seeded generator: the same made-up board on every load.
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const cents = (x) => Math.round(x * 100) / 100;
const iso = (ms) => new Date(ms).toISOString();

export function startTestFeed({ board, onBoard, onRace, channel }) {
  const random = seeded(16);
  // Heavy-tailed like real wagering: the leader far ahead, a long flat tail.
  let players = Array.from({ length: PLAYERS }, (_, i) => ({
    uid: `test-${i + 1}`,
    name: NAMES[i % NAMES.length] + (i < NAMES.length ? "" : String(i)),
    amount: cents((240_000 / (i + 1) ** 1.2) * (0.9 + random() * 0.2)),
  }));
  const ranked = () => players.slice().sort((a, b) => b.amount - a.amount || (a.uid < b.uid ? -1 : 1));
  players = ranked();
  let prev = new Map(players.map((p, i) => [p.uid, i + 1]));
  let seq = 1;
  let raceId = 0;
  let race = null;

  const standings = () =>
    players.map((p, i) => ({
      position: i + 1,
      prev_position: prev.get(p.uid) ?? null,
      uid: p.uid,
      name: p.name,
      amount: p.amount,
      prize_cents: PRIZES_CENTS[i] ?? 0,
      gap: i ? cents(players[i - 1].amount - p.amount) : null,
      qualified: true,
    }));

  function startRace() {
    const now = Date.now();
    race = {
      id: ++raceId,
      title: raceId === 1 ? "Test race" : `Test race ${raceId}`,
      kind: "custom",
      status: "live",
      starts_at: iso(now - 3_600_000),
      ends_at: iso(now + RACE_MS),
      pool_cents: 500_000,
      split: [50, 25, 15, 10],
      prizes_cents: PRIZES_CENTS,
      min_wager: 0,
      description: "Test data",
      finalized: null,
    };
    onRace({ type: "race", channel, seq: seq++, server_now: iso(now), race, standings: standings(), seconds_left: RACE_MS / 1000 });
    setTimeout(endRace, RACE_MS);
  }

  function endRace() {
    race = { ...race, status: "ended" };
    onRace({ type: "status", channel, seq: seq++, race_id: race.id, status: "ended", previous: "live", at: iso(Date.now()) });
    const winners = standings().slice(0, PRIZES_CENTS.length).map(({ position, uid, name, amount, prize_cents }) => ({ position, uid, name, amount, prize_cents }));
    onRace({ type: "race_ended", channel, seq: seq++, race_id: race.id, finalized: "on_time", winners });
    setTimeout(startRace, WINNERS_MS);
  }

  // Someone wagers enough to pass one to three places (now and then the leader pulls away).
  function move() {
    const i = 1 + Math.floor(random() ** 2 * 14);
    const was = players[i];
    const target = players[Math.max(0, i - 1 - Math.floor(random() * 3))];
    const mover = { ...was, amount: cents(target.amount + 50 + random() * 900) };
    prev = new Map(players.map((p, k) => [p.uid, k + 1]));
    players[i] = mover;
    players = ranked();
    const rank = players.indexOf(mover) + 1;
    const change = { kind: rank === i + 1 ? "wagered" : "moved", uid: mover.uid, name: mover.name, rank, amount: mover.amount, prev_rank: i + 1, prev_amount: was.amount };
    if (board !== "race") onBoard({ type: "delta", channel, seq: seq++, total: PLAYERS, changes: [change], left: [], overtakes: [], shifted: 0, lifetimes: {} });
    if (race && race.status === "live") onRace({ type: "standings", channel, seq: seq++, race_id: race.id, synced_at: iso(Date.now()), standings: standings() });
  }

  let watching = 1184;
  function watchers() {
    watching = Math.max(40, watching + Math.round((random() - 0.45) * 60));
    const message = { type: "presence", channel, watching };
    (board === "race" ? onRace : onBoard)(message);
  }

  if (board !== "race") {
    onBoard({ type: "snapshot", channel, seq: seq++, total: PLAYERS, rows: players.map((p, i) => ({ rank: i + 1, uid: p.uid, name: p.name, amount: p.amount, prev: i + 1 })) });
  }
  startRace();
  watchers();
  setInterval(move, MOVE_EVERY_MS);
  setInterval(watchers, WATCHERS_EVERY_MS);
}
