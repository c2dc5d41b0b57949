"""The upstream's response shape, decoded strictly with msgspec (extra fields allowed)."""

from __future__ import annotations

import math

import msgspec

from server.errors import UpstreamPayloadError
from server.leaderboard.board import Player


class Wagered(msgspec.Struct, frozen=True):
    today: float
    this_week: float
    this_month: float
    all_time: float


class Entry(msgspec.Struct, frozen=True):
    uid: str
    name: str
    wagered: Wagered


class LeaderboardResponse(msgspec.Struct, frozen=True):
    success: bool
    data: list[Entry]
    today: float | None = None
    this_week: float | None = None


_decoder = msgspec.json.Decoder(LeaderboardResponse)


def decode(body: bytes) -> list[Player]:
    """Decode a response body into players, or refuse the whole payload with the reason."""
    try:
        response = _decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise UpstreamPayloadError(f"response does not match the contract: {exc}") from None
    if not response.success:
        raise UpstreamPayloadError("upstream answered success=false")
    players: list[Player] = []
    seen: set[str] = set()
    for index, entry in enumerate(response.data):
        uid = entry.uid.strip()
        if not uid:
            raise UpstreamPayloadError(f"data[{index}] has an empty uid")
        if uid in seen:
            raise UpstreamPayloadError(f"data[{index}] repeats uid {uid!r}")
        seen.add(uid)
        w = entry.wagered
        for field in ("today", "this_week", "this_month", "all_time"):
            value = getattr(w, field)
            if value < 0 or not math.isfinite(value):
                raise UpstreamPayloadError(f"data[{index}].wagered.{field} is {value!r}")
        players.append(
            Player(
                uid=uid,
                name=entry.name,
                today=w.today,
                weekly=w.this_week,
                monthly=w.this_month,
                all_time=w.all_time,
            )
        )
    return players
