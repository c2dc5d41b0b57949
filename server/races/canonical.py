"""A settled race's final standings as canonical JSON bytes and their SHA-256 (pure).

The form is written down in docs/races.md so that anyone can rebuild the bytes from what the
API and the CSV show and check the hash: every number is an integer (cents, positions, ids),
times are whole UTC seconds, shares are decimal strings; keys sorted, no whitespace, UTF-8.
For such data this is RFC 8785 (JCS) and what Python's `json.dumps(doc, ensure_ascii=False,
sort_keys=True, separators=(",", ":"))` writes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from server.races.model import Race
from server.races.standings import Standing, amount_cents

FORMAT = "goated-race-final/1"


def final_json(race: Race, standings: Sequence[Standing]) -> bytes:
    """The canonical bytes of `race`'s result: its terms and every row of its standings, in order."""
    document = {
        "format": FORMAT,
        "race_id": race.id,
        "title": race.title,
        "kind": race.kind.value,
        "starts_at": utc_text(race.starts_at),
        "ends_at": utc_text(race.ends_at),
        "pool_cents": race.pool_cents,
        "split_percent": [percent_text(share) for share in race.split],
        "prizes_cents": list(race.prizes_cents),
        "min_wager_cents": amount_cents(race.min_wager),
        "standings": [
            {
                "position": s.position,
                "uid": s.uid,
                "name": s.name,
                "amount_cents": amount_cents(s.amount),
                "prize_cents": s.prize_cents,
            }
            for s in standings
        ],
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def utc_text(moment: datetime) -> str:
    """`2026-12-01T00:00:00Z`: UTC, whole seconds (a fraction is dropped, not rounded)."""
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def percent_text(share: float) -> str:
    """A split share as the admin typed it: 50.0 is "50", 33.3 is "33.3", 0.00001 is "0.00001"."""
    return format(Decimal(repr(float(share))).normalize(), "f")
