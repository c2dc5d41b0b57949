"""Three-way account links: a Telegram user claims a Goated player, an admin decides.

The tables' unique constraints (see `LinkRow`) keep one approved player per Telegram user
and one approved Telegram user per player, however many admins approve at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime

import asyncpg
import msgspec

from server.errors import BadRequest, NotFound
from server.telegram.formatting import name
from server.telegram.outbox import Outgoing
from server.telegram.personal import Mark, Prefs, Watcher
from server.telegram.tables import AccountRow, AlertMarkRow, LinkRow

UNIQUE_VIOLATION = (asyncpg.UniqueViolationError, sqlite3.IntegrityError)


class LinkError(BadRequest):
    """A link request or decision that cannot be made; the message says why."""


class Link(msgspec.Struct, kw_only=True):
    id: int
    telegram_id: int
    telegram_name: str
    uid: str
    player_name: str
    status: str  # pending | approved | rejected | unlinked
    requested_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None


_COLUMNS = (
    LinkRow.id,
    LinkRow.telegram_id,
    LinkRow.telegram_name,
    LinkRow.uid,
    LinkRow.player_name,
    LinkRow.status,
    LinkRow.requested_at,
    LinkRow.decided_at,
    LinkRow.decided_by,
)


def _link(row: Mapping[str, object]) -> Link:
    return msgspec.convert(dict(row), Link)


class Links:
    async def request(self, telegram_id: int, telegram_name: str, uid: str, player_name: str, now: datetime) -> Link:
        """A pending claim; refused while the user has one pending or approved, or when the
        player is linked to someone else already."""
        current = await self.current(telegram_id)
        if current is not None and current.status == "approved":
            raise LinkError(f"you are already linked to {current.player_name}; send /unlink first")
        if current is not None and current.status == "pending":
            raise LinkError(f"your request for {current.player_name} (#{current.id}) is waiting for an admin")
        taken = await LinkRow.exists().where((LinkRow.approved_uid == uid)).run()
        if taken:
            raise LinkError(f"{player_name} is already linked to another Telegram account")
        row = LinkRow(
            telegram_id=telegram_id,
            telegram_name=telegram_name,
            uid=uid,
            player_name=player_name,
            status="pending",
            requested_at=now,
        )
        result = await LinkRow.insert(row).returning(*_COLUMNS).run()
        return _link(result[0])

    async def current(self, telegram_id: int) -> Link | None:
        """The user's pending or approved link, if any."""
        row = (
            await LinkRow.select(*_COLUMNS)
            .where((LinkRow.telegram_id == telegram_id) & LinkRow.status.is_in(["pending", "approved"]))
            .order_by(LinkRow.id, ascending=False)
            .first()
            .run()
        )
        return _link(row) if row else None

    async def linked_uid(self, telegram_id: int) -> str | None:
        row = await LinkRow.select(LinkRow.uid).where(LinkRow.approved_telegram_id == telegram_id).first().run()
        return row["uid"] if row else None

    async def get(self, link_id: int) -> Link:
        row = await LinkRow.select(*_COLUMNS).where(LinkRow.id == link_id).first().run()
        if row is None:
            raise NotFound(f"no link request #{link_id}")
        return _link(row)

    async def page(self, status: str | None, limit: int = 100) -> list[Link]:
        query = LinkRow.select(*_COLUMNS)
        if status is not None:
            query = query.where(LinkRow.status == status)
        rows = await query.order_by(LinkRow.id, ascending=status == "pending").limit(limit).run()
        return [_link(r) for r in rows]

    async def approve(self, link_id: int, by: str, now: datetime) -> Link:
        link = await self.get(link_id)
        if link.status != "pending":
            raise LinkError(f"request #{link_id} is {link.status}, not pending")
        try:
            rows = (
                await LinkRow.update(
                    {
                        LinkRow.status: "approved",
                        LinkRow.decided_at: now,
                        LinkRow.decided_by: by,
                        LinkRow.approved_uid: link.uid,
                        LinkRow.approved_telegram_id: link.telegram_id,
                    }
                )
                .where((LinkRow.id == link_id) & (LinkRow.status == "pending"))
                .returning(*_COLUMNS)
                .run()
            )
        except UNIQUE_VIOLATION:
            raise LinkError(
                f"{link.player_name} or {link.telegram_name} is already linked; reject #{link_id} or unlink the other first"
            ) from None
        if not rows:
            raise LinkError(f"request #{link_id} was decided meanwhile")
        return _link(rows[0])

    async def reject(self, link_id: int, by: str, now: datetime) -> Link:
        link = await self.get(link_id)
        rows = (
            await LinkRow.update({LinkRow.status: "rejected", LinkRow.decided_at: now, LinkRow.decided_by: by})
            .where((LinkRow.id == link_id) & (LinkRow.status == "pending"))
            .returning(*_COLUMNS)
            .run()
        )
        if not rows:
            raise LinkError(f"request #{link_id} is {link.status}, not pending")
        return _link(rows[0])

    async def unlink(self, telegram_id: int, now: datetime) -> Link | None:
        """End the user's approved link or withdraw their pending request."""
        rows = (
            await LinkRow.update(
                {
                    LinkRow.status: "unlinked",
                    LinkRow.decided_at: now,
                    LinkRow.decided_by: f"telegram:{telegram_id}",
                    LinkRow.approved_uid: None,
                    LinkRow.approved_telegram_id: None,
                }
            )
            .where((LinkRow.telegram_id == telegram_id) & LinkRow.status.is_in(["pending", "approved"]))
            .returning(*_COLUMNS)
            .run()
        )
        return _link(rows[0]) if rows else None

    async def watchers(self) -> list[Watcher]:
        """Linked Telegram users with any alert on: their player, what they want, and what the
        last sync saw of them in the race."""
        on = (
            await AccountRow.select(
                AccountRow.telegram_id, AccountRow.alerts, AccountRow.alert_passed, AccountRow.alert_paid, AccountRow.alert_near_cents
            )
            .where(
                (AccountRow.alerts == True)  # noqa: E712 - SQL expressions
                | (AccountRow.alert_passed == True)  # noqa: E712
                | (AccountRow.alert_paid == True)  # noqa: E712
                | AccountRow.alert_near_cents.is_not_null()
            )
            .run()
        )
        if not on:
            return []
        ids = [r["telegram_id"] for r in on]
        links = await LinkRow.select(LinkRow.approved_uid, LinkRow.approved_telegram_id).where(LinkRow.approved_telegram_id.is_in(ids)).run()
        uid_of = {r["approved_telegram_id"]: r["approved_uid"] for r in links}
        marks = await AlertMarkRow.select().where(AlertMarkRow.telegram_id.is_in(list(uid_of))).run() if uid_of else []
        mark_of = {r["telegram_id"]: Mark(r["race_id"], r["paid"], r["near_of"]) for r in marks}
        return [
            Watcher(r["telegram_id"], uid_of[r["telegram_id"]], _prefs(r), mark_of.get(r["telegram_id"]))
            for r in on
            if r["telegram_id"] in uid_of
        ]

    async def save_marks(self, marks: Mapping[int, Mark], now: datetime) -> None:
        """What this sync saw of each watcher (in the sync's transaction)."""
        if not marks:
            return
        rows = [
            AlertMarkRow(telegram_id=telegram_id, race_id=m.race_id, paid=m.paid, near_of=m.near_of, updated_at=now)
            for telegram_id, m in marks.items()
        ]
        await AlertMarkRow.insert(*rows).on_conflict(
            target=AlertMarkRow.telegram_id,
            action="DO UPDATE",
            values=[AlertMarkRow.race_id, AlertMarkRow.paid, AlertMarkRow.near_of, AlertMarkRow.updated_at],
        ).run()


def _prefs(row: Mapping[str, object]) -> Prefs:
    near = row["alert_near_cents"]
    return Prefs(
        places=bool(row["alerts"]), passed=bool(row["alert_passed"]), paid=bool(row["alert_paid"]),
        near_cents=int(near) if near is not None else None,  # type: ignore[call-overload]
    )


def decision_message(link: Link) -> Outgoing:
    """The DM telling a requester what an admin decided (one per decision)."""
    if link.status == "approved":
        text = f"✅ You're linked to <b>{name(link.player_name)}</b>. /rank shows your places; /alerts on to hear when they change."
    else:
        text = f"Your request to link <b>{name(link.player_name)}</b> was not approved. Ask an admin if this is a mistake."
    return Outgoing(str(link.telegram_id), "link", text, f"link:{link.id}:{link.status}")


class Accounts:
    """Telegram users the bot or the site has seen, and their alert preferences."""

    async def seen(self, telegram_id: int, name: str, username: str | None, now: datetime) -> None:
        await AccountRow.insert(
            AccountRow(telegram_id=telegram_id, name=name, username=username, alerts=False, updated_at=now)
        ).on_conflict(
            target=AccountRow.telegram_id, action="DO UPDATE", values=[AccountRow.name, AccountRow.username, AccountRow.updated_at]
        ).run()

    async def set_alerts(self, telegram_id: int, on: bool, now: datetime) -> None:
        """On: the usual alerts (places, passed, paid; `near` keeps its amount). Off: none at
        all (also when the user unlinks or blocks the bot)."""
        values: dict = {AccountRow.alerts: on, AccountRow.alert_passed: on, AccountRow.alert_paid: on, AccountRow.updated_at: now}
        if not on:
            values[AccountRow.alert_near_cents] = None
        await AccountRow.update(values).where(AccountRow.telegram_id == telegram_id).run()

    async def set_alert(self, telegram_id: int, kind: str, value: bool | int | None, now: datetime) -> None:
        """One kind: `places`, `passed` or `paid` (on or off), `near` (cents, or None: off)."""
        column = {"places": AccountRow.alerts, "passed": AccountRow.alert_passed, "paid": AccountRow.alert_paid, "near": AccountRow.alert_near_cents}[kind]
        await AccountRow.update({column: value, AccountRow.updated_at: now}).where(AccountRow.telegram_id == telegram_id).run()

    async def prefs(self, telegram_id: int) -> Prefs:
        row = (
            await AccountRow.select(AccountRow.alerts, AccountRow.alert_passed, AccountRow.alert_paid, AccountRow.alert_near_cents)
            .where(AccountRow.telegram_id == telegram_id)
            .first()
            .run()
        )
        return _prefs(row) if row else Prefs()
