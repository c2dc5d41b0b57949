"""A deterministic model of one affiliate's referral list wagering over time (pure, no I/O)."""

from __future__ import annotations

import math
import random
import string
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

import msgspec

__all__ = ["Entry", "Payload", "Simulation", "Wagered"]


class Wagered(msgspec.Struct, frozen=True):
    """One referral's wagered USD per period, as the upstream names them."""

    today: float
    this_week: float
    this_month: float
    all_time: float


class Entry(msgspec.Struct, frozen=True):
    """One element of the upstream's `data` list."""

    uid: str
    name: str
    wagered: Wagered


class Payload(msgspec.Struct, frozen=True):
    """The upstream's whole 200 response body."""

    success: bool
    data: list[Entry]
    today: float
    this_week: float


_DAY = 86_400.0
_UID_ALPHABET = string.ascii_letters + string.digits
_ENCODE = msgspec.json.Encoder().encode

# Population shares, tuned so the default 2,000 referrals look like the contract's snapshot:
# ~10% ever wagered, ~3% still wager (month), ~1% wager on a given day.
_ACTIVE_SHARE = 0.03
_EVER_WAGERED_SHARE = 0.10
_NEW_REFERRAL_ACTIVE_SHARE = 0.10

# Event rates per existing referral per simulated day, before `speed`.
_NEW_REFERRALS_PER_PLAYER_DAY = 0.002
_RENAMES_PER_PLAYER_DAY = 0.0002

# A session is a burst of equal bets at a steady pace; durations are lognormal around 6 minutes.
_SESSION_MEDIAN_SECONDS = 360.0
_SESSION_SIGMA = 1.2
_LOOKBACK_SECONDS = 6 * 3600.0  # longer than all but a negligible share of sessions
_MAX_STAKE = 1_000.0
_WHOLE_STAKE_STEPS = (0.5, 1.0, 1.0, 1.0, 2.0, 5.0)
_DUST_STAKE_STEPS = (1, 1, 2, 5, 10)

_WORDS = (
    "lucky", "spin", "whale", "ace", "king", "queen", "degen", "moon", "bet", "goat", "crypto",
    "jack", "pot", "rich", "ninja", "wolf", "tiger", "shadow", "blaze", "frost", "neon", "pixel",
    "turbo", "hyper", "mega", "gold", "silver", "diamond", "royal", "wild", "slot", "dice", "roll",
    "max", "sniper", "ghost", "storm", "viper", "alpha", "omega", "zen", "boss", "chief", "lord",
    "ape", "bull", "bear", "rocket", "star", "high", "roller", "punter", "stack", "chip", "flip",
)  # fmt: skip


class _Stake(Enum):
    """How a player's bet sizes look on the wire."""

    WHOLE = "whole"  # integer USD bets: most amounts are integers
    FRACTIONAL = "fractional"  # converted crypto bets: floats with many decimals
    DUST = "dust"  # 0.001-sized bets


@dataclass(slots=True)
class _Profile:
    """How an active referral wagers."""

    sessions_per_day: float
    stake: float
    kind: _Stake
    bet_interval: float


@dataclass(slots=True)
class _Session:
    """A burst of `bets` bets of `stake`, one every `interval` seconds from `start`."""

    player: int
    start: float
    interval: float
    bets: int
    stake: float
    done: int = 0


class Simulation:
    """An affiliate's referral list whose wagers grow in bursts as simulated time advances.

    Deterministic for a seed: the same seed, start and sequence of calls give the same payloads,
    and one long `advance` equals many short ones (up to float rounding). Wagering happens in
    sessions (bursts of bets); `speed` multiplies the rates of sessions, new referrals and renames.
    At `speed=1` the daily totals approximate the real affiliate behind the contract's snapshot
    (about 1% of referrals wager on a given day, so most 5 s windows change nothing); the demo
    uses about 60 so that every sync moves several players, and tests use 0 to freeze it. The
    history before `start` (the current week and month, and all-time totals) is always
    generated at speed 1; `history_from` makes it reach back to that instant's week and
    month too. A `rewound` world stands at the first instant of its history instead of at
    `start`: `advance` replays the history (the same world, step by step), and at `start` it
    carries on at `speed`.
    """

    def __init__(
        self,
        *,
        start: datetime,
        players: int = 2000,
        seed: int = 1,
        speed: float = 1.0,
        history_from: datetime | None = None,
        rewound: bool = False,
    ) -> None:
        if players < 0:
            raise ValueError(f"players must be >= 0, got {players}")
        if not (math.isfinite(speed) and speed >= 0):
            raise ValueError(f"speed must be a finite number >= 0, got {speed}")
        origin = _timestamp(start)
        # One stream per process, so one process's draws never shift another's: that is what
        # makes the outcome independent of how time is sliced into `advance` calls.
        population = random.Random(f"{seed}/population")
        self._sessions_rng = random.Random(f"{seed}/sessions")
        self._referrals_rng = random.Random(f"{seed}/referrals")
        self._renames_rng = random.Random(f"{seed}/renames")

        self._uids: list[str] = []
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._taken_names: set[str] = set()
        self._today: list[float] = []
        self._week: list[float] = []
        self._month: list[float] = []
        self._all_time: list[float] = []
        self._encoded: list[bytes] = []
        self._dirty: set[int] = set()
        self._wagerers: list[int] = []
        self._profiles: list[_Profile] = []
        self._cumulative_rates: list[float] = []
        self._sessions: list[_Session] = []
        self._event_base = players

        for _ in range(players):
            self._add_player(population, established=True)

        # Replay the current week and month at speed 1 so the periods start realistically filled.
        self._speed = 1.0
        self._t = _period_origin(origin)
        if history_from is not None:
            self._t = min(self._t, _period_origin(_timestamp(history_from)))
        self._next_midnight = self._t + _DAY
        self._next_referral = math.inf
        self._next_rename = math.inf
        self._next_session = self._draw_next_session(self._t)
        self._start: float | None = origin  # None once the world runs at `speed`
        self._start_speed = speed
        if not rewound:
            self._run_to(origin)

    def _begin(self) -> None:
        """At `start`: from here on the world runs at its own speed."""
        assert self._start is not None
        origin, self._start = self._start, None
        self._speed = self._start_speed
        self._join_sessions_under_way(origin)
        self._next_session = self._draw_next_session(origin)
        self._next_referral = _after(
            origin, self._referrals_rng, self._event_rate(_NEW_REFERRALS_PER_PLAYER_DAY)
        )
        self._next_rename = _after(
            origin, self._renames_rng, self._event_rate(_RENAMES_PER_PLAYER_DAY)
        )

    def _run_to(self, end: float) -> None:
        if self._start is not None:
            self._run(min(end, self._start))
            if end < self._start:
                return
            self._begin()
        self._run(end)

    @property
    def now(self) -> datetime:
        """The simulated time the counters are accurate to."""
        return datetime.fromtimestamp(self._t, UTC)

    @property
    def player_count(self) -> int:
        return len(self._uids)

    @property
    def speed(self) -> float:
        return self._speed

    def advance(self, now: datetime) -> None:
        """Move the world forward to `now`; a `now` at or before the current time is ignored."""
        self._run_to(_timestamp(now))

    def wager(self, uid: str, amount: float) -> None:
        """Add a bet of `amount` USD by `uid` at the current time, to every period."""
        if not (math.isfinite(amount) and amount > 0):
            raise ValueError(f"amount must be a finite number > 0, got {amount}")
        self._add_wager(self._index[uid], amount)

    def rename(self, uid: str, name: str) -> None:
        """Give `uid` a new display name; names stay unique, as they were upstream."""
        player = self._index[uid]
        if not name:
            raise ValueError("name must not be empty")
        if name == self._names[player]:
            return
        if name in self._taken_names:
            raise ValueError(f"name {name!r} is taken by another referral")
        self._set_name(player, name)

    def snapshot(self) -> list[Entry]:
        """Every referral, in the payload's order."""
        return [
            Entry(uid, name, Wagered(today, week, month, all_time))
            for uid, name, today, week, month, all_time in zip(
                self._uids, self._names, self._today, self._week, self._month, self._all_time,
                strict=True,
            )
        ]

    def payload(self, *, limit: int | None = None) -> bytes:
        """The upstream's 200 body as JSON bytes; `limit` keeps only the first entries.

        The totals always cover every referral, so a truncated list disagrees with them.
        """
        for player in self._dirty:
            self._encoded[player] = self._encode_entry(player)
        self._dirty.clear()
        rows = self._encoded if limit is None else self._encoded[: max(limit, 0)]
        # Splicing cached per-entry bytes keeps a 100k-entry body cheap: only entries whose
        # amounts or name changed since the last call are encoded again.
        return b"".join(
            (
                b'{"success":true,"data":[',
                b",".join(rows),
                b'],"today":',
                _ENCODE(_wire_number(_total(self._today))),
                b',"this_week":',
                _ENCODE(_wire_number(_total(self._week))),
                b"}",
            )
        )

    # --- the event loop -------------------------------------------------------------------

    def _run(self, end: float) -> None:
        while self._t < end:
            stop = min(end, self._next_midnight)
            self._run_events(stop)
            self._accrue(stop)
            self._t = stop
            if stop == self._next_midnight:
                self._cross_midnight(stop)
                self._next_midnight = stop + _DAY

    def _run_events(self, stop: float) -> None:
        """Handle session starts, new referrals and renames due by `stop`, in time order."""
        while True:
            due = min(self._next_session, self._next_referral, self._next_rename)
            if due > stop:
                return
            if due == self._next_session:
                self._start_session(due)
                self._next_session = self._draw_next_session(due)
            elif due == self._next_referral:
                wagers = self._add_player(self._referrals_rng, established=False)
                rate = self._event_rate(_NEW_REFERRALS_PER_PLAYER_DAY)
                self._next_referral = _after(due, self._referrals_rng, rate)
                if wagers:
                    # The session rate grew; exponential gaps are memoryless, so redraw.
                    self._next_session = self._draw_next_session(due)
            else:
                self._rename_at_random(self._renames_rng)
                rate = self._event_rate(_RENAMES_PER_PLAYER_DAY)
                self._next_rename = _after(due, self._renames_rng, rate)

    def _accrue(self, stop: float) -> None:
        """Book every session's bets placed up to `stop`."""
        live: list[_Session] = []
        for session in self._sessions:
            placed = min(session.bets, int((stop - session.start) // session.interval) + 1)
            if placed > session.done:
                self._add_wager(session.player, session.stake * (placed - session.done))
                session.done = placed
            if session.done < session.bets:
                live.append(session)
        self._sessions = live

    def _cross_midnight(self, boundary: float) -> None:
        day = datetime.fromtimestamp(boundary, UTC)
        self._zero(self._today)
        if day.weekday() == 0:
            self._zero(self._week)
        if day.day == 1:
            self._zero(self._month)

    def _zero(self, amounts: list[float]) -> None:
        for player, amount in enumerate(amounts):
            if amount:
                amounts[player] = 0.0
                self._dirty.add(player)

    def _add_wager(self, player: int, amount: float) -> None:
        self._today[player] += amount
        self._week[player] += amount
        self._month[player] += amount
        self._all_time[player] += amount
        self._dirty.add(player)

    # --- sessions --------------------------------------------------------------------------

    def _draw_next_session(self, after: float) -> float:
        total = self._cumulative_rates[-1] if self._cumulative_rates else 0.0
        return _after(after, self._sessions_rng, self._speed * total / _DAY)

    def _join_sessions_under_way(self, origin: float) -> None:
        """Replace the history's sessions with those `speed` would have running at `origin`.

        Without them activity would ramp up over the first half hour after a fast start (and a
        speed of 0 would not freeze the world). Their bets before `origin` are not booked: the
        history is generated at speed 1.
        """
        self._sessions = []
        t = self._draw_next_session(origin - _LOOKBACK_SECONDS)
        while t < origin:
            self._start_session(t)
            t = self._draw_next_session(t)
        for session in self._sessions:
            session.done = min(session.bets, int((origin - session.start) // session.interval) + 1)
        self._sessions = [s for s in self._sessions if s.done < s.bets]

    def _start_session(self, at: float) -> None:
        rng = self._sessions_rng
        pick = rng.random() * self._cumulative_rates[-1]
        k = min(bisect_right(self._cumulative_rates, pick), len(self._profiles) - 1)
        profile = self._profiles[k]
        duration = rng.lognormvariate(math.log(_SESSION_MEDIAN_SECONDS), _SESSION_SIGMA)
        bets = max(1, int(duration / profile.bet_interval))
        stake = _session_stake(profile, rng)
        self._sessions.append(_Session(self._wagerers[k], at, profile.bet_interval, bets, stake))

    # --- referrals and names ---------------------------------------------------------------

    def _event_rate(self, per_player_day: float) -> float:
        return self._speed * self._event_base * per_player_day / _DAY

    def _add_player(self, rng: random.Random, *, established: bool) -> bool:
        """Append a referral; True if it wagers from now on."""
        player = len(self._uids)
        uid = _new_uid(rng)
        while uid in self._index:
            uid = _new_uid(rng)
        self._uids.append(uid)
        self._index[uid] = player
        self._names.append("")
        self._set_name(player, self._unique_name(rng))

        roll = rng.random()
        if established:
            active = roll < _ACTIVE_SHARE
            wagered = roll < _EVER_WAGERED_SHARE
        else:
            active = roll < _NEW_REFERRAL_ACTIVE_SHARE
            wagered = False
        kind = _draw_stake_kind(rng) if wagered or active else _Stake.WHOLE
        history = _history_amount(kind, rng) if wagered else 0.0
        self._today.append(0.0)
        self._week.append(0.0)
        self._month.append(0.0)
        self._all_time.append(history)
        self._encoded.append(b"")
        self._dirty.add(player)
        if active:
            self._add_profile(player, _draw_profile(kind, rng))
        return active

    def _add_profile(self, player: int, profile: _Profile) -> None:
        total = self._cumulative_rates[-1] if self._cumulative_rates else 0.0
        self._wagerers.append(player)
        self._profiles.append(profile)
        self._cumulative_rates.append(total + profile.sessions_per_day)

    def _rename_at_random(self, rng: random.Random) -> None:
        if self._uids:
            self._set_name(rng.randrange(len(self._uids)), self._unique_name(rng))

    def _unique_name(self, rng: random.Random) -> str:
        name = _new_name(rng)
        while name in self._taken_names:
            name = f"{name[:37]}{rng.randrange(10_000)}"
        return name

    def _set_name(self, player: int, name: str) -> None:
        self._taken_names.discard(self._names[player])
        self._taken_names.add(name)
        self._names[player] = name
        self._dirty.add(player)

    def _encode_entry(self, player: int) -> bytes:
        wagered = Wagered(
            _wire_number(self._today[player]),
            _wire_number(self._week[player]),
            _wire_number(self._month[player]),
            _wire_number(self._all_time[player]),
        )
        return _ENCODE(Entry(self._uids[player], self._names[player], wagered))


def _timestamp(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("simulation times must be timezone-aware (UTC)")
    return moment.timestamp()


def _period_origin(t: float) -> float:
    """The earlier of the current week's and month's starts: where the replay of history begins."""
    day_start = math.floor(t / _DAY) * _DAY
    day = datetime.fromtimestamp(day_start, UTC)
    week_start = day_start - day.weekday() * _DAY
    month_start = datetime(day.year, day.month, 1, tzinfo=UTC).timestamp()
    return min(week_start, month_start)


def _after(t: float, rng: random.Random, rate_per_second: float) -> float:
    return t + rng.expovariate(rate_per_second) if rate_per_second > 0 else math.inf


def _total(amounts: list[float]) -> float:
    # The observed totals carry two decimals even though entries carry many.
    return round(sum(amounts), 2)


def _wire_number(amount: float) -> float:
    # The upstream (JavaScript) prints integral amounts without ".0"; int is a float to typing.
    return int(amount) if amount.is_integer() else amount


def _new_uid(rng: random.Random) -> str:
    return "".join(rng.choices(_UID_ALPHABET, k=20))


def _new_name(rng: random.Random) -> str:
    """A display name of 5 to 42 letters and digits, sometimes with '-'."""
    words = rng.sample(_WORDS, 3)
    style = rng.random()
    if style < 0.35:
        name = words[0].capitalize() + words[1].capitalize()
        if rng.random() < 0.5:
            name += str(rng.randrange(1000))
    elif style < 0.50:
        name = f"{words[0]}-{words[1]}"
    elif style < 0.75:
        name = words[0] + str(rng.randrange(10, 100_000))
    elif style < 0.97:
        name = "".join(rng.choices(_UID_ALPHABET, k=rng.randint(5, 14)))
    else:
        name = "-".join(w.capitalize() for w in words) + "-" + str(rng.randrange(10**8, 10**12))
    if len(name) < 5:
        name += str(rng.randrange(100, 1000))
    return name[:42].rstrip("-")


def _draw_stake_kind(rng: random.Random) -> _Stake:
    roll = rng.random()
    if roll < 0.70:
        return _Stake.WHOLE
    return _Stake.FRACTIONAL if roll < 0.95 else _Stake.DUST


def _draw_profile(kind: _Stake, rng: random.Random) -> _Profile:
    # Pareto stakes give the few whales; lognormal session rates give the few daily regulars.
    return _Profile(
        sessions_per_day=min(rng.lognormvariate(math.log(0.3), 1.0), 8.0),
        stake=min(0.2 * rng.paretovariate(0.9), _MAX_STAKE),
        kind=kind,
        bet_interval=rng.uniform(3.0, 10.0),
    )


def _session_stake(profile: _Profile, rng: random.Random) -> float:
    match profile.kind:
        case _Stake.WHOLE:
            return float(max(1, round(profile.stake * rng.choice(_WHOLE_STAKE_STEPS))))
        case _Stake.FRACTIONAL:
            return profile.stake * rng.lognormvariate(0.0, 0.25)
        case _Stake.DUST:
            return 0.001 * rng.choice(_DUST_STAKE_STEPS)


def _history_amount(kind: _Stake, rng: random.Random) -> float:
    """All-time USD wagered before the current month: lognormal, median ~250, p90 ~6k."""
    amount = rng.lognormvariate(math.log(250.0), 2.5)
    match kind:
        case _Stake.WHOLE:
            return float(max(1, round(amount)))
        case _Stake.FRACTIONAL:
            return amount
        case _Stake.DUST:
            return 0.001 * rng.randint(1, 50)
