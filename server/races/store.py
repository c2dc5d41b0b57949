"""Persistence of races, standings, baselines and the audit log through Piccolo (SQLite or
PostgreSQL).

Every status change is a conditional UPDATE that also bumps `version`, so whichever process
gets there first wins and the others see no row come back. Each change an admin (or the
system, for automatic races) makes is written to `race_audit` in the change's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
from piccolo.columns.combination import Where
from piccolo.engine.base import Engine
from piccolo.query import OrderByRaw

from server.leaderboard.board import Player
from server.races.calendar import RaceSpec
from server.races.canonical import final_json, sha256_hex
from server.races.model import AuditEntry, Finalized, Race, RaceKind, RaceStatus, Winner
from server.races.standings import Standing, changed_rows, winners
from server.races.tables import RaceAuditRow, RaceBaselineRow, RaceRow, RaceStandingRow

BATCH = 500  # rows per INSERT (PostgreSQL allows 32,767 parameters per statement)

_winners_decoder = msgspec.json.Decoder(tuple[Winner, ...])
_details_decoder = msgspec.json.Decoder(dict[str, Any])
# The order of `page`'s groups: upcoming, live, then the past (ended or cancelled).
_STATUS_GROUP = OrderByRaw(
    f"CASE status WHEN '{RaceStatus.UPCOMING.value}' THEN 0 WHEN '{RaceStatus.LIVE.value}' THEN 1 ELSE 2 END"
)
# Every column but the final JSON, which can be large and is read only by final.json.
_COLUMNS = tuple(c for c in RaceRow.all_columns() if c._meta.name != "final_json")
ADMIN = "admin"  # the actor of changes made through the admin API (one ADMIN_TOKEN, no labels)
SYSTEM = "system"  # the actor of automatic races' creation and of every settle
# Edits touching these are logged as "prizes_changed" rather than "edited".
PRIZE_FIELDS = frozenset({"pool_cents", "split"})


class RaceStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- reading -------------------------------------------------------------------

    async def get(self, race_id: int) -> Race | None:
        row = await RaceRow.select(*_COLUMNS).where(RaceRow.id == race_id).first().run()
        return _race(row) if row else None

    async def active_and_recent(self, finished: int) -> list[Race]:
        """Upcoming and live races, plus the `finished` most recently ended or cancelled."""
        active = await RaceRow.select(*_COLUMNS).where(
            RaceRow.status.is_in([RaceStatus.UPCOMING.value, RaceStatus.LIVE.value])
        ).run()
        recent = (
            await RaceRow.select(*_COLUMNS)
            .where(RaceRow.status.is_in([RaceStatus.ENDED.value, RaceStatus.CANCELLED.value]))
            .order_by(RaceRow.ends_at, ascending=False)
            .limit(finished)
            .run()
        )
        return [_race(r) for r in active + recent]

    async def page(self, status: RaceStatus | None, limit: int, offset: int) -> tuple[int, list[Race]]:
        """Races upcoming first, then live, then past (ended or cancelled), each group newest
        start first: a month's race that is still live comes before the sprints that ended
        since it started."""
        query = RaceRow.select(*_COLUMNS)
        count = RaceRow.count()
        if status is not None:
            query = query.where(RaceRow.status == status.value)
            count = count.where(RaceRow.status == status.value)
        rows = await (
            query.order_by(_STATUS_GROUP)
            .order_by(RaceRow.starts_at, RaceRow.id, ascending=False)
            .limit(limit).offset(offset).run()
        )
        return await count.run(), [_race(r) for r in rows]

    async def standings(self, race_id: int, limit: int | None = None, offset: int = 0) -> list[Standing]:
        query = RaceStandingRow.select(*_STANDING_COLUMNS).where(RaceStandingRow.race_id == race_id).order_by(
            RaceStandingRow.position
        )
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        return [_standing(r) for r in await query.run()]

    async def standings_count(self, race_id: int) -> int:
        return await RaceStandingRow.count().where(RaceStandingRow.race_id == race_id).run()

    async def top_standings(self, race_ids: Sequence[int], top: int) -> dict[int, tuple[Standing, ...]]:
        if not race_ids:
            return {}
        rows = await RaceStandingRow.select(*_STANDING_COLUMNS).where(
            RaceStandingRow.race_id.is_in(list(race_ids)) & (RaceStandingRow.position <= top)
        ).order_by(RaceStandingRow.position).run()
        out: dict[int, list[Standing]] = {i: [] for i in race_ids}
        for row in rows:
            out[row["race_id"]].append(_standing(row))
        return {i: tuple(v) for i, v in out.items()}

    async def standing(self, race_id: int, uid: str) -> Standing | None:
        row = await RaceStandingRow.select(*_STANDING_COLUMNS).where(
            RaceStandingRow.key == _key(race_id, uid)
        ).first().run()
        return _standing(row) if row else None

    async def final_json(self, race_id: int) -> str | None:
        """The canonical JSON archived when the race was settled (None before, or for a race
        settled before final standings were kept)."""
        row = await RaceRow.select(RaceRow.final_json).where(RaceRow.id == race_id).first().run()
        return row["final_json"] if row else None

    async def audit(self, race_id: int) -> list[AuditEntry]:
        rows = await RaceAuditRow.select(
            RaceAuditRow.at, RaceAuditRow.action, RaceAuditRow.actor, RaceAuditRow.details
        ).where(RaceAuditRow.race_id == race_id).order_by(RaceAuditRow.id).run()
        return [
            AuditEntry(at=r["at"], action=r["action"], actor=r["actor"], details=_details_decoder.decode(r["details"]))
            for r in rows
        ]

    async def baseline(self, race_id: int) -> dict[str, float]:
        rows = await RaceBaselineRow.select(RaceBaselineRow.uid, RaceBaselineRow.all_time).where(
            RaceBaselineRow.race_id == race_id
        ).run()
        return {r["uid"]: r["all_time"] for r in rows}

    # ---- creating and editing ------------------------------------------------------

    async def create(self, values: Mapping[str, Any], now: datetime, actor: str = ADMIN) -> Race:
        row = RaceRow(**_row_values(values), status=RaceStatus.UPCOMING.value, version=1, created_at=now, updated_at=now)
        async with self.engine.transaction():
            result = await RaceRow.insert(row).returning(*_COLUMNS).run()
            race = _race(result[0])
            await _log(race.id, now, "created", actor, _terms(race))
        return race

    async def create_automatic(self, specs: Iterable[RaceSpec], now: datetime) -> list[Race]:
        """Create the specs whose `auto_key` does not exist yet; returns the ones created here
        (another process may have created the rest a moment earlier)."""
        created: list[Race] = []
        for spec in specs:
            values = msgspec.structs.asdict(spec)
            row = RaceRow(**_row_values(values), status=RaceStatus.UPCOMING.value, version=1, created_at=now, updated_at=now)
            async with self.engine.transaction():
                result = (
                    await RaceRow.insert(row)
                    .on_conflict(target=RaceRow.auto_key, action="DO NOTHING")
                    .returning(*_COLUMNS)
                    .run()
                )
                for r in result:
                    race = _race(r)
                    await _log(race.id, now, "created", SYSTEM, _terms(race))
                    created.append(race)
        return created

    async def existing_auto_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        rows = await RaceRow.select(RaceRow.auto_key).where(RaceRow.auto_key.is_in(list(keys))).run()
        return {r["auto_key"] for r in rows}

    async def edit(
        self, race_id: int, status: RaceStatus, values: Mapping[str, Any], now: datetime, actor: str = ADMIN
    ) -> tuple[Race, dict[str, tuple[Any, Any]]] | None:
        """Apply `values` if the race is still in `status` (None otherwise); returns the race
        and the fields that really changed, {field: (from, to)}, as logged. Nothing changes
        (no version, no log entry) when every value is the one already stored."""
        async with self.engine.transaction():
            before = await self._lock(race_id, RaceRow.status == status.value)
            if before is None:
                return None
            changed = {k: (getattr(before, k), v) for k, v in values.items() if getattr(before, k) != v}
            if not changed:
                return before, {}
            update = {getattr(RaceRow, k): v for k, v in _row_values({k: new for k, (_, new) in changed.items()}).items()}
            update[RaceRow.updated_at] = now
            edited = await self._bump(race_id, update, RaceRow.id == race_id)
            assert edited is not None  # the row is locked by this transaction
            action = "prizes_changed" if PRIZE_FIELDS & changed.keys() else "edited"
            await _log(race_id, now, action, actor, {k: {"from": old, "to": new} for k, (old, new) in changed.items()})
        return edited, changed

    async def start(self, race_id: int, now: datetime) -> Race | None:
        """upcoming -> live, once."""
        return await self._bump(
            race_id,
            {RaceRow.status: RaceStatus.LIVE.value, RaceRow.updated_at: now},
            (RaceRow.status == RaceStatus.UPCOMING.value) & (RaceRow.starts_at <= now),
        )

    async def cancel(self, race_id: int, now: datetime, actor: str = ADMIN) -> tuple[Race, RaceStatus] | None:
        """upcoming or live -> cancelled; returns the race and the status it had."""
        async with self.engine.transaction():
            before = await self._lock(race_id, RaceRow.status.is_in([RaceStatus.UPCOMING.value, RaceStatus.LIVE.value]))
            if before is None:
                return None
            cancelled = await self._bump(
                race_id, {RaceRow.status: RaceStatus.CANCELLED.value, RaceRow.updated_at: now}, RaceRow.id == race_id
            )
            assert cancelled is not None  # the row is locked by this transaction
            await _log(race_id, now, "cancelled", actor, {"status": {"from": before.status, "to": cancelled.status}})
        return cancelled, before.status

    async def end(self, race_id: int, now: datetime) -> Race | None:
        """live -> ended, once, at the end time. The result (winners) follows in `settle`."""
        return await self._bump(
            race_id,
            {RaceRow.status: RaceStatus.ENDED.value, RaceRow.updated_at: now},
            RaceRow.status == RaceStatus.LIVE.value,
        )

    async def settle(self, race_id: int, how: Finalized, now: datetime) -> tuple[Race, list[Standing]] | None:
        """Archive an ended race's result exactly once: its last stored standings, each
        winner's prize, the standings as canonical JSON and its SHA-256. The conditional
        UPDATE comes first and takes the row (PostgreSQL locks it; SQLite takes the write
        lock), so the standings read next are the last any sync wrote, and a sync that comes
        later no longer finds the race unsettled."""
        async with self.engine.transaction():
            rows = (
                await RaceRow.update(
                    {
                        RaceRow.version: RaceRow.version + 1,
                        RaceRow.finalized: how.value,
                        RaceRow.finalized_at: now,
                        RaceRow.updated_at: now,
                    }
                )
                .where(
                    (RaceRow.id == race_id)
                    & (RaceRow.status == RaceStatus.ENDED.value)
                    & RaceRow.finalized.is_null()
                )
                .returning(*_COLUMNS)
                .run()
            )
            if not rows:
                return None
            race = _race(rows[0])
            standings = await self.standings(race_id)
            won = winners(standings)
            document = final_json(race, standings)
            digest = sha256_hex(document)
            await RaceRow.update(
                {
                    RaceRow.winners: msgspec.json.encode(won).decode(),
                    RaceRow.final_json: document.decode(),
                    RaceRow.final_sha256: digest,
                }
            ).where(RaceRow.id == race_id).run()
            await _log(race_id, now, "settled", SYSTEM, {"final_sha256": digest, "finalized": how.value, "winners": len(won)})
        return msgspec.structs.replace(race, winners=won, final_sha256=digest), standings

    async def unsettled(self) -> list[Race]:
        """Ended races whose result is not archived yet."""
        rows = await RaceRow.select(*_COLUMNS).where(
            (RaceRow.status == RaceStatus.ENDED.value) & RaceRow.finalized.is_null()
        ).run()
        return [_race(r) for r in rows]

    # ---- inside a sync's transaction -----------------------------------------------

    async def claim_live(self, at: datetime, finalizing: Iterable[int]) -> list[Race]:
        """Bump the version of every race a snapshot synced `at` belongs to, and return them:
        live races with `at` inside their window, and `finalizing` ones (ended, waiting for
        their final sync). Writing first takes SQLite's write lock at once (a read first
        could deadlock with a concurrent settle) and locks the rows on PostgreSQL."""
        belongs = (RaceRow.status == RaceStatus.LIVE.value) & (RaceRow.starts_at <= at) & (RaceRow.ends_at > at)
        ending = list(finalizing)
        if ending:
            belongs = belongs | (
                RaceRow.id.is_in(ending)
                & RaceRow.status.is_in([RaceStatus.LIVE.value, RaceStatus.ENDED.value])
                & RaceRow.finalized.is_null()
            )
        rows = await RaceRow.update({RaceRow.version: RaceRow.version + 1}).where(belongs).returning(*_COLUMNS).run()
        return [_race(r) for r in rows]

    async def write_standings(
        self, race_id: int, previous: Sequence[Standing], new: Sequence[Standing], at: datetime
    ) -> None:
        write, gone = changed_rows(previous, new)
        for batch in _batches([_key(race_id, uid) for uid in gone]):
            await RaceStandingRow.delete().where(RaceStandingRow.key.is_in(batch)).run()
        for batch in _batches(write):
            await RaceStandingRow.insert(*(_standing_row(race_id, s) for s in batch)).on_conflict(
                target=RaceStandingRow.key,
                action="DO UPDATE",
                values=[
                    RaceStandingRow.name,
                    RaceStandingRow.position,
                    RaceStandingRow.prev_position,
                    RaceStandingRow.amount,
                    RaceStandingRow.prize_cents,
                    RaceStandingRow.gap,
                    RaceStandingRow.qualified,
                    RaceStandingRow.tied,
                ],
            ).run()
        await RaceRow.update({RaceRow.standings_at: at}).where(RaceRow.id == race_id).run()

    async def write_baseline(self, race_id: int, players: Iterable[Player], at: datetime) -> dict[str, float]:
        baseline = {p.uid: p.all_time for p in players if p.all_time > 0}
        rows = [RaceBaselineRow(key=_key(race_id, uid), race_id=race_id, uid=uid, all_time=v) for uid, v in baseline.items()]
        for batch in _batches(rows):
            await RaceBaselineRow.insert(*batch).on_conflict(target=RaceBaselineRow.key, action="DO NOTHING").run()
        await RaceRow.update({RaceRow.baseline_at: at}).where(RaceRow.id == race_id).run()
        return baseline

    async def _lock(self, race_id: int, condition: Where | Any) -> Race | None:
        """The race as stored, if `condition` holds, with its row locked for the rest of the
        transaction (an UPDATE that changes nothing: PostgreSQL locks the row, SQLite takes
        the write lock), so what is logged as `from` is what the change replaced."""
        rows = await RaceRow.update({RaceRow.version: RaceRow.version + 0}).where(
            (RaceRow.id == race_id) & condition
        ).returning(*_COLUMNS).run()
        return _race(rows[0]) if rows else None

    async def _bump(self, race_id: int, values: dict, condition: Where | Any) -> Race | None:
        values = {**values, RaceRow.version: RaceRow.version + 1}
        rows = await RaceRow.update(values).where((RaceRow.id == race_id) & condition).returning(*_COLUMNS).run()
        return _race(rows[0]) if rows else None


_STANDING_COLUMNS = (
    RaceStandingRow.race_id,
    RaceStandingRow.position,
    RaceStandingRow.prev_position,
    RaceStandingRow.uid,
    RaceStandingRow.name,
    RaceStandingRow.amount,
    RaceStandingRow.prize_cents,
    RaceStandingRow.gap,
    RaceStandingRow.qualified,
    RaceStandingRow.tied,
)


async def _log(race_id: int, at: datetime, action: str, actor: str, details: Mapping[str, Any]) -> None:
    """One audit entry, in the caller's transaction."""
    await RaceAuditRow.insert(
        RaceAuditRow(race_id=race_id, at=at, action=action, actor=actor, details=msgspec.json.encode(details).decode())
    ).run()


def _terms(race: Race) -> dict[str, Any]:
    """What a race was created with, as logged."""
    fields = ("title", "kind", "starts_at", "ends_at", "pool_cents", "split", "min_wager", "description")
    return {f: getattr(race, f) for f in fields}


def _key(race_id: int, uid: str) -> str:
    return f"{race_id}:{uid}"


def _row_values(values: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if "split" in out:
        out["split"] = json.dumps(list(out["split"]))
    for enum_field in ("kind", "status"):
        if enum_field in out:
            out[enum_field] = str(out[enum_field])
    return out


def _race(row: Mapping[str, Any]) -> Race:
    return Race(
        id=row["id"],
        version=row["version"],
        title=row["title"],
        kind=RaceKind(row["kind"]),
        status=RaceStatus(row["status"]),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        pool_cents=row["pool_cents"],
        split=tuple(json.loads(row["split"])),
        min_wager=float(row["min_wager"]),
        description=row["description"],
        auto_key=row["auto_key"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        baseline_at=row["baseline_at"],
        standings_at=row["standings_at"],
        finalized=Finalized(row["finalized"]) if row["finalized"] else None,
        finalized_at=row["finalized_at"],
        winners=_winners_decoder.decode(row["winners"]) if row["winners"] else (),
        final_sha256=row["final_sha256"],
    )


def _standing(row: Mapping[str, Any]) -> Standing:
    return Standing(
        position=row["position"],
        prev_position=row["prev_position"],
        uid=row["uid"],
        name=row["name"],
        amount=float(row["amount"]),
        prize_cents=row["prize_cents"],
        gap=None if row["gap"] is None else float(row["gap"]),
        qualified=bool(row["qualified"]),
        tied=row["tied"],
    )


def _standing_row(race_id: int, s: Standing) -> RaceStandingRow:
    return RaceStandingRow(
        key=_key(race_id, s.uid),
        race_id=race_id,
        uid=s.uid,
        name=s.name,
        position=s.position,
        prev_position=s.prev_position,
        amount=s.amount,
        prize_cents=s.prize_cents,
        gap=s.gap,
        qualified=s.qualified,
        tied=s.tied,
    )


def _batches[T](items: Sequence[T]) -> Iterable[list[T]]:
    items = list(items)
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]
