"""What the bot says, as Telegram HTML (pure): digests, race posts, alerts, and splitting.

Every name that reaches Telegram comes from the upstream or from Telegram users, so every
one goes through `name()`, which shortens and escapes it. Tags never span lines, so a
message can be split at any line boundary.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from server.leaderboard.identity import clean_name, clip, placeholder_name
from server.leaderboard.board import ChangeKind, Period
from server.money import usd as money  # the one display rule for amounts (docs/protocol.md)
from server.money import usd_cents as cents
from server.races.model import Race, Winner
from server.races.standings import Standing
from server.leaderboard.messages import DeltaMsg

MAX_LENGTH = 4096  # Telegram's limit for one text message
NAME_LIMIT = 48  # longer names are shortened, so one line never nears the limit
SECTION_LIMIT = 10  # lines per section of a digest; the rest are counted
PRIZE_LINES = 25  # winners listed in a race-ended post

PERIOD_LABEL = {
    Period.TODAY: "Today",
    Period.WEEKLY: "This week",
    Period.MONTHLY: "This month",
    Period.ALL_TIME: "All time",
}
_RESET_WORD = {Period.TODAY: "day", Period.WEEKLY: "week", Period.MONTHLY: "month", Period.ALL_TIME: "period"}
_MEDAL = {1: "🥇", 2: "🥈", 3: "🥉"}


def name(raw: str) -> str:
    """A display name, shortened and HTML-escaped (`<b>evil</b>` arrives as text)."""
    # Player names were cleaned at the edge; Telegram users' names were not: one rule for both
    # (no newlines, controls or bidi overrides; cut at a grapheme, so a flag is never split).
    text = clean_name(raw, "?")
    text = "?" if text == placeholder_name("?") else clip(text, NAME_LIMIT)
    return html.escape(text, quote=True)


def place(position: int) -> str:
    return _MEDAL.get(position, f"#{position}")


def duration(seconds: float) -> str:
    """`2d 4h`, `3h 12m`, `9m 30s`, `45s`: the two largest units."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


# ---- digests -------------------------------------------------------------------------


def digest(delta: DeltaMsg, names: Mapping[str, str], *, top_n: int, min_move: int) -> str | None:
    """One board's changes in one sync, or None when nothing in the top `top_n` is worth a post.

    Reset: one line. Otherwise new entries into the top N, movers that climbed at least
    `min_move` places within it, and who passed whom.
    """
    period = delta.period
    head = f"📊 <b>{PERIOD_LABEL[period]}</b> · top {top_n}"
    if delta.reset:
        leader = min(delta.changes, key=lambda c: c.rank, default=None)
        line = f"🔄 New {_RESET_WORD[period]}: the {PERIOD_LABEL[period].lower()} board started over"
        if leader is not None:
            line += f"; {name(leader.name)} leads with {money(leader.amount)}"
        return f"{head}\n{line}."

    entries, movers = [], []
    for change in sorted(delta.changes, key=lambda c: c.rank):
        if change.rank > top_n or change.kind in (ChangeKind.RENAMED, ChangeKind.WAGERED):
            continue
        if change.prev_rank is None or change.prev_rank > top_n:
            was = "" if change.prev_rank is None else f", up from #{change.prev_rank}"
            entries.append(f"🆕 <b>{name(change.name)}</b> enters the top {top_n} at #{change.rank} ({money(change.amount)}{was})")
        elif change.prev_rank - change.rank >= min_move:
            movers.append(f"⬆️ <b>{name(change.name)}</b> #{change.prev_rank} → #{change.rank} ({money(change.amount)})")
    passes = [
        f"⚔️ {name(names.get(o.uid, o.uid))} passed {name(names.get(o.passed, o.passed))} for #{o.rank}"
        for o in sorted(delta.overtakes, key=lambda o: o.rank)
        if o.rank <= top_n
    ]
    if not (entries or movers or passes):
        return None
    lines = [head]
    for section in (entries, movers, passes):
        lines.extend(_capped(section))
    return "\n".join(lines)


def _capped(lines: Sequence[str], limit: int = SECTION_LIMIT) -> list[str]:
    if len(lines) <= limit:
        return list(lines)
    return [*lines[:limit], f"… and {len(lines) - limit} more"]


# ---- races ---------------------------------------------------------------------------


def race_started(race: Race) -> str:
    lines = [
        f"🏁 <b>{name(race.title)}</b> is live!",
        f"Prize pool {cents(race.pool_cents)} · ends {_when(race.ends_at)}",
    ]
    prizes = [p for p in race.prizes_cents if p > 0]
    if prizes:
        shown = " · ".join(f"{place(i)} {cents(p)}" for i, p in enumerate(prizes[:5], 1))
        more = f" · +{len(prizes) - 5} more places" if len(prizes) > 5 else ""
        lines.append(f"Prizes: {shown}{more}")
    if race.min_wager > 0:
        lines.append(f"Minimum wager to qualify: {money(race.min_wager)}")
    return "\n".join(lines)


def race_time_left(race: Race, left: str, standings: Sequence[Standing], top: int = 5) -> str:
    """`left` is "1 hour" or "10 minutes"."""
    lines = [f"⏳ <b>{left}</b> left in <b>{name(race.title)}</b> ({cents(race.pool_cents)} pool)"]
    rows = list(standings[:top])
    if rows:
        lines.extend(_standing_line(s) for s in rows)
    else:
        lines.append("No wagers yet: the podium is wide open.")
    return "\n".join(lines)


def race_ended(race: Race, winners: Sequence[Winner]) -> str:
    lines = [f"🏆 <b>{name(race.title)}</b> has ended!"]
    if not winners:
        lines.append("No one qualified for a prize this time.")
    for w in list(winners)[:PRIZE_LINES]:
        lines.append(f"{place(w.position)} <b>{name(w.name)}</b> — {money(w.amount)} wagered — wins {cents(w.prize_cents)}")
    if len(winners) > PRIZE_LINES:
        lines.append(f"… and {len(winners) - PRIZE_LINES} more winners")
    lines += [f"Final standings SHA-256: <code>{race.final_sha256}</code> (/api/races/{race.id}/final.json)"] if race.final_sha256 else []
    return "\n".join(lines)


def _standing_line(s: Standing) -> str:
    prize = f" · {cents(s.prize_cents)}" if s.prize_cents else ""
    return f"{place(s.position)} {name(s.name)} — {money(s.amount)}{prize}"


def _when(moment: datetime) -> str:
    return f"{moment:%b %d, %H:%M} UTC"


# ---- personal alerts -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Move:
    """How one watched player's place changed in one period."""

    period: Period
    old: int | None  # None: was not on the board
    new: int | None  # None: left the board
    passed_by: tuple[str, ...] = ()  # names of the players who passed them


def alert(player_name: str, moves: Iterable[Move]) -> str | None:
    lines = []
    for m in moves:
        label = PERIOD_LABEL[m.period]
        if m.new is None:
            line = f"{label}: you left the board (were #{m.old})"
        elif m.old is None:
            line = f"{label}: you're on the board at #{m.new}"
        elif m.new < m.old:
            line = f"📈 {label}: up to #{m.new} (was #{m.old})"
        elif m.new > m.old:
            line = f"📉 {label}: down to #{m.new} (was #{m.old})"
        else:
            line = f"{label}: still #{m.new}"
        if m.passed_by:
            who = ", ".join(name(n) for n in m.passed_by[:3])
            more = f" and {len(m.passed_by) - 3} more" if len(m.passed_by) > 3 else ""
            line += f" — passed by {who}{more}"
        lines.append(line)
    if not lines:
        return None
    return "\n".join([f"🔔 <b>{name(player_name)}</b>", *lines])


# ---- splitting -----------------------------------------------------------------------


def split(text: str, limit: int = MAX_LENGTH) -> list[str]:
    """Pieces of at most `limit` characters (UTF-16 code units, as Telegram counts),
    cut at line boundaries. A single line longer than the limit (which our own lines never
    are) loses its tags and is cut between characters, never inside an entity."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        for part in _cut_line(line, limit):
            cost = _units(part) + (1 if current else 0)
            if current and size + cost > limit:
                pieces.append("\n".join(current))
                current, size = [], 0
                cost = _units(part)
            current.append(part)
            size += cost
    if current:
        pieces.append("\n".join(current))
    return [p for p in pieces if p.strip()]


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut_line(line: str, limit: int) -> list[str]:
    if _units(line) <= limit:
        return [line]
    plain = html.escape(html.unescape(_TAG.sub("", line)), quote=False)
    parts: list[str] = []
    start, units = 0, 0
    for i, ch in enumerate(plain):
        if ch == "&":  # an entity (&amp; &lt; &gt;) is cut before, never through
            end = plain.index(";", i) + 1
            if units + (end - i) > limit:
                parts.append(plain[start:i])
                start, units = i, 0
        units += _units(ch)
        if units > limit and plain[start:i]:
            parts.append(plain[start:i])
            start, units = i, _units(ch)
    parts.append(plain[start:])
    return parts


_TAG = re.compile(r"<[^>]*>")
