"""What the public sees of a player's name (`NAME_MASK`): one masking rule, pure.

Documented in `docs/privacy.md`. Names are masked where they enter the boards (the sync's
`stage` and `SyncService.load`), so every surface built from a board or a snapshot (API,
websocket, SSE, races, overlay, Telegram) shows the masked form and search only ever sees it.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import regex

from server.leaderboard.board import Player

__all__ = ["HIDDEN", "NameMask", "mask_name", "public_name", "public_players", "revealed"]

HIDDEN = "***"  # always three stars, whatever was hidden: the mask does not tell the length
_GRAPHEME = regex.compile(r"\X")


class NameMask(StrEnum):
    OFF = "off"  # names as the upstream sends them (cleaned)
    PARTIAL = "partial"  # at most the first two and the last character shown


def revealed(length: int) -> tuple[int, int]:
    """(characters shown at the start, at the end) of a name `length` characters long.

    5 or more: 2 and 1 ("Alexander" → "Al***r"); 4: 1 and 1 ("Anna" → "A***a"); 2 or 3: the
    first only ("Bob" → "B***"); 1: nothing ("X" → "***"). Two characters of a name of three or
    more are always hidden, and half of a shorter one.
    """
    if length >= 5:
        return 2, 1
    if length == 4:
        return 1, 1
    if length >= 2:
        return 1, 0
    return 0, 0


def mask_name(name: str) -> str:
    """`name` with all but `revealed(n)` of its n characters replaced by `HIDDEN`.

    Characters are grapheme clusters (what a reader sees as one: an emoji with its
    modifiers, a letter with its combining marks), so a mask never splits one. A space next
    to the stars is dropped ("Jo Smith" → "Jo***h", "A Bcde" → "A***e").
    """
    if name.isascii():  # every character a grapheme: the common case, without the regex
        n = len(name)
        if n >= 5:  # the commonest: 100k names a sync for a big affiliate
            return f"{name[:2].rstrip()}{HIDDEN}{name[-1]}"
        head, tail = revealed(n)
        return f"{name[:head]}{HIDDEN}{name[-1] if tail else ''}"
    clusters = _GRAPHEME.findall(name)
    head, tail = revealed(len(clusters))
    start = "".join(clusters[:head]).rstrip()
    end = "".join(clusters[len(clusters) - tail :]).lstrip() if tail else ""
    return f"{start}{HIDDEN}{end}"


def public_name(name: str, mode: NameMask) -> str:
    """`name` as the public may see it under `mode` (for a name read from the players table,
    which keeps the real one)."""
    return mask_name(name) if mode is NameMask.PARTIAL else name


def public_players(players: Iterable[Player], mode: NameMask) -> list[Player]:
    """The players as the public may see them: with `PARTIAL`, each `name` masked and the
    upstream's name kept in `real_name` (stored, and shown to the player alone)."""
    if mode is NameMask.OFF:
        return players if isinstance(players, list) else list(players)
    out = []
    for p in players:
        real = p.name if p.real_name is None else p.real_name
        out.append(Player(p.uid, mask_name(real), p.today, p.weekly, p.monthly, p.all_time, real))
    return out
