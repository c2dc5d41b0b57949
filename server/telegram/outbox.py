"""The durable outbox: messages are rows first, and a sender claims, sends and marks them.

Delivery is at-least-once: a sender claims a row (a conditional UPDATE, so two senders
never hold the same row), sends it, then marks it sent. If the process dies between the
send and the mark, the claim runs out and the row is sent again: a duplicate, never a
loss. Rows to one chat leave in the order they were written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.telegram.formatting import split
from server.telegram.tables import OutboxRow

CHANNEL = "channel"  # the chat of rows for TELEGRAM_CHANNEL (resolved when sent)
SCAN = 500  # unsent rows looked at per claim
KEEP_SENT = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to write. `dedupe_key` makes writing it idempotent (race posts, admin
    alerts: every process may try, one row results)."""

    chat: str  # CHANNEL or a user's id
    kind: str
    text: str
    dedupe_key: str | None = None


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    chat: str
    kind: str
    text: str
    attempts: int  # including this one


@dataclass(frozen=True, slots=True)
class OutboxStats:
    backlog: int  # waiting to be sent
    oldest_at: datetime | None  # when the oldest waiting row was written
    failed: int  # DMs Telegram refused for good
    last_sent_at: datetime | None
    last_error: str | None  # of a waiting row


class Outbox:
    async def add(self, messages: Iterable[Outgoing], now: datetime) -> int:
        """Write messages (split below Telegram's limit); returns the rows written.

        Inside a sync's transaction this is part of it: the rows exist if and only if the
        sync committed.
        """
        rows = []
        for message in messages:
            pieces = split(message.text)
            for i, piece in enumerate(pieces):
                key = message.dedupe_key
                if key is not None and len(pieces) > 1:
                    key = f"{key}#{i}"
                rows.append(
                    OutboxRow(
                        chat=message.chat,
                        kind=message.kind,
                        text=piece,
                        dedupe_key=key,
                        created_at=now,
                        attempts=0,
                        next_attempt_at=now,
                    )
                )
        if not rows:
            return 0
        written = await OutboxRow.insert(*rows).on_conflict(target=OutboxRow.dedupe_key, action="DO NOTHING").returning(OutboxRow.id).run()
        return len(written)

    async def claim(self, holder: str, now: datetime, hold: timedelta) -> Claimed | None:
        """Take the next row that may go now: the oldest unsent row of a chat, unless it
        waits for a retry or another sender holds it. None when there is none."""
        waiting = (
            await OutboxRow.select(OutboxRow.id, OutboxRow.chat, OutboxRow.next_attempt_at, OutboxRow.claimed_until)
            .where(OutboxRow.sent_at.is_null() & OutboxRow.failed_at.is_null())
            .order_by(OutboxRow.id)
            .limit(SCAN)
            .run()
        )
        heads: set[str] = set()
        for row in waiting:
            if row["chat"] in heads:
                continue  # a chat's later rows wait for its first
            heads.add(row["chat"])
            if row["next_attempt_at"] > now or (row["claimed_until"] is not None and row["claimed_until"] > now):
                continue
            won = (
                await OutboxRow.update(
                    {
                        OutboxRow.claimed_by: holder,
                        OutboxRow.claimed_until: now + hold,
                        OutboxRow.attempts: OutboxRow.attempts + 1,
                    }
                )
                .where(
                    (OutboxRow.id == row["id"])
                    & OutboxRow.sent_at.is_null()
                    & OutboxRow.failed_at.is_null()
                    & (OutboxRow.claimed_until.is_null() | (OutboxRow.claimed_until <= now))
                )
                .returning(OutboxRow.id, OutboxRow.chat, OutboxRow.kind, OutboxRow.text, OutboxRow.attempts)
                .run()
            )
            if won:
                r = won[0]
                return Claimed(r["id"], r["chat"], r["kind"], r["text"], r["attempts"])
        return None

    async def mark_sent(self, row_id: int, now: datetime, message_id: int | None) -> None:
        await OutboxRow.update(
            {
                OutboxRow.sent_at: now,
                OutboxRow.telegram_message_id: message_id,
                OutboxRow.claimed_by: None,
                OutboxRow.claimed_until: None,
                OutboxRow.last_error: None,
            }
        ).where((OutboxRow.id == row_id) & OutboxRow.sent_at.is_null()).run()

    async def hold(self, row_id: int, holder: str, until: datetime, error: str) -> None:
        """Keep the claim (a FloodWait being waited out) and say why."""
        await OutboxRow.update({OutboxRow.claimed_until: until, OutboxRow.last_error: error[:500]}).where(
            (OutboxRow.id == row_id) & (OutboxRow.claimed_by == holder)
        ).run()

    async def retry_later(self, row_id: int, holder: str, at: datetime, error: str) -> None:
        await OutboxRow.update(
            {
                OutboxRow.next_attempt_at: at,
                OutboxRow.claimed_by: None,
                OutboxRow.claimed_until: None,
                OutboxRow.last_error: error[:500],
            }
        ).where((OutboxRow.id == row_id) & (OutboxRow.claimed_by == holder)).run()

    async def release(self, row_id: int, holder: str) -> None:
        """Give a claimed row back unsent (shutting down before it went out)."""
        await OutboxRow.update(
            {OutboxRow.claimed_by: None, OutboxRow.claimed_until: None, OutboxRow.attempts: OutboxRow.attempts - 1}
        ).where((OutboxRow.id == row_id) & (OutboxRow.claimed_by == holder) & OutboxRow.sent_at.is_null()).run()

    async def fail(self, row_id: int, holder: str, now: datetime, error: str) -> None:
        """Give up on a row Telegram refuses for good (a user blocked the bot); it stays, marked."""
        await OutboxRow.update(
            {OutboxRow.failed_at: now, OutboxRow.claimed_by: None, OutboxRow.claimed_until: None, OutboxRow.last_error: error[:500]}
        ).where((OutboxRow.id == row_id) & (OutboxRow.claimed_by == holder)).run()

    async def stats(self) -> OutboxStats:
        waiting = OutboxRow.sent_at.is_null() & OutboxRow.failed_at.is_null()
        backlog = await OutboxRow.count().where(waiting).run()
        oldest = await OutboxRow.select(OutboxRow.created_at).where(waiting).order_by(OutboxRow.id).first().run()
        errored = (
            await OutboxRow.select(OutboxRow.last_error)
            .where(waiting & OutboxRow.last_error.is_not_null())
            .order_by(OutboxRow.id)
            .first()
            .run()
        )
        failed = await OutboxRow.count().where(OutboxRow.failed_at.is_not_null()).run()
        last = await OutboxRow.select(OutboxRow.sent_at).where(OutboxRow.sent_at.is_not_null()).order_by(OutboxRow.sent_at, ascending=False).first().run()
        return OutboxStats(
            backlog=backlog,
            oldest_at=oldest["created_at"] if oldest else None,
            failed=failed,
            last_sent_at=last["sent_at"] if last else None,
            last_error=errored["last_error"] if errored else None,
        )

    async def prune(self, now: datetime) -> int:
        """Forget rows sent (or given up on) more than KEEP_SENT ago."""
        before = now - KEEP_SENT
        gone = await OutboxRow.delete().where(
            (OutboxRow.sent_at.is_not_null() & (OutboxRow.sent_at < before))
            | (OutboxRow.failed_at.is_not_null() & (OutboxRow.failed_at < before))
        ).returning(OutboxRow.id).run()
        return len(gone)
