"""The upstream's response shape, decoded with msgspec; every row cleaned and bounded here.

The envelope (`success`, `data` as a list) is strict: without it there is no snapshot. Each
row is decoded on its own: a row that breaks a rule (docs/upstream.md, "Rows") is refused
alone, with its reason, and the rest of the snapshot goes on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import msgspec

from server.errors import UpstreamPayloadError
from server.leaderboard.board import Player
from server.leaderboard.identity import UID_MAX, clean_name, is_uid

__all__ = ["Decoded", "RefusedRow", "decode"]


class Wagered(msgspec.Struct, frozen=True):
    today: float
    this_week: float
    this_month: float
    all_time: float


class Entry(msgspec.Struct, frozen=True):
    uid: str
    name: str
    wagered: Wagered


class Envelope(msgspec.Struct, frozen=True):
    success: bool
    data: list[msgspec.Raw]
    today: float | None = None
    this_week: float | None = None


class Response(msgspec.Struct, frozen=True):
    success: bool
    data: list[Entry]


# The whole body in one call when every row has the contract's shape (the usual case: ~5x
# faster at 100k rows than row by row); the envelope and rows one by one when one does not.
_response = msgspec.json.Decoder(Response)
_envelope = msgspec.json.Decoder(Envelope)
# Liberal in what it accepts: numbers sent as strings ("12.5") are read as numbers.
_entry = msgspec.json.Decoder(Entry, strict=False)
_FIELDS = ("today", "this_week", "this_month", "all_time")
_INF = math.inf


@dataclass(frozen=True, slots=True)
class RefusedRow:
    """One upstream row left out of a snapshot, and why (`reason` is a short stable key)."""

    index: int
    reason: str  # shape | uid | duplicate | amount
    detail: str


@dataclass(slots=True)
class Decoded:
    """The players of one response, and the rows refused from it."""

    players: list[Player] = field(default_factory=list)
    refused: list[RefusedRow] = field(default_factory=list)


def decode(body: bytes) -> Decoded:
    """Decode a response body; refuse the whole payload only when its envelope is broken."""
    try:
        response: Response | Envelope = _response.decode(body)
    except msgspec.DecodeError:
        try:
            response = _envelope.decode(body)
        except msgspec.DecodeError as exc:
            raise UpstreamPayloadError(f"response does not match the contract: {exc}") from None
    if not response.success:
        raise UpstreamPayloadError("upstream answered success=false")
    out = Decoded()
    seen: set[str] = set()
    for index, item in enumerate(response.data):
        if isinstance(item, Entry):
            entry = item
        else:
            try:
                entry = _entry.decode(item)
            except msgspec.DecodeError as exc:
                out.refused.append(RefusedRow(index, "shape", f"data[{index}]: {exc}"))
                continue
        uid = entry.uid.strip()
        if not is_uid(uid):
            shown = ascii(uid[:UID_MAX])  # escaped: a refused uid may hold control characters
            out.refused.append(
                RefusedRow(index, "uid", f"data[{index}].uid {shown} ({len(uid)} chars) is not 1-{UID_MAX} of A-Z a-z 0-9 - _")
            )
            continue
        if uid in seen:
            out.refused.append(RefusedRow(index, "duplicate", f"data[{index}] repeats uid {uid!r}; the first is kept"))
            continue
        w = entry.wagered
        today, week, month, all_time = w.today, w.this_week, w.this_month, w.all_time
        # Finite and >= 0, in chained comparisons (False for NaN, inf and negatives): this
        # runs once per row, 100k times a sync for a big affiliate.
        if not (0.0 <= today < _INF and 0.0 <= week < _INF and 0.0 <= month < _INF and 0.0 <= all_time < _INF):
            bad = next(f for f in _FIELDS if not 0.0 <= getattr(w, f) < _INF)
            out.refused.append(RefusedRow(index, "amount", f"data[{index}].wagered.{bad} is {getattr(w, bad)!r}"))
            continue
        seen.add(uid)
        out.players.append(Player(uid, clean_name(entry.name, uid), today, week, month, all_time))
    return out
