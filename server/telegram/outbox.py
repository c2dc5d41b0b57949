"""The durable outbox: messages are rows first, and a sender claims, sends and marks them.

Delivery is at-least-once: a sender claims a row (a conditional UPDATE, so two senders
never hold the same row), sends it, then marks it sent. If the process dies between the
send and the mark, the claim runs out and the row is sent again: a duplicate, never a
loss. Rows to one chat leave in the order they were written, and a chat that must wait
(a FloodWait, a retry) holds back only its own rows. A row may carry an expiry (a race
post that stops being true): past it, it is dropped unsent (`expired_at`), never sent late.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from piccolo.columns.combination import And, Or
from piccolo.query.functions.aggregate import Min

from server.telegram.formatting import split
from server.telegram.tables import OutboxRow

CHANNEL = "channel"  # the chat of rows for TELEGRAM_CHANNEL (resolved when sent)
SCAN = 500  # chats whose first waiting row is looked at per claim
KEEP_SENT = timedelta(days=30)
EXPIRED = "expired before it could be sent: no longer true"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to write. `dedupe_key` makes writing it idempotent (race posts, admin
    alerts: every process may try, one row results)."""

    chat: str  # CHANNEL or a user's id
    kind: str
    text: str
    dedupe_key: str | None = None
    expires_at: datetime | None = None  # not sent from this instant on (it would no longer be true)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    chat: str
    kind: str
    text: str
    attempts: int  # including this one
    expires_at: datetime | None = None


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
                        expires_at=message.expires_at,
                    )
                )
        if not rows:
            return 0
        written = await OutboxRow.insert(*rows).on_conflict(target=OutboxRow.dedupe_key, action="DO NOTHING").returning(OutboxRow.id).run()
        return len(written)

    async def claim(self, holder: str, now: datetime, hold: timedelta) -> Claimed | None:
        """Take the next row that may go now: the first waiting row of a chat (its later rows
        wait behind it), unless it waits for a retry or another sender holds it. A first row
        whose expiry has passed is dropped (`expired_at`) and the chat's next row steps up.
        None when there is none."""
        while True:
            heads = (
                await OutboxRow.select(OutboxRow.id, OutboxRow.next_attempt_at, OutboxRow.claimed_until, OutboxRow.expires_at)
                .where(OutboxRow.id.is_in(OutboxRow.select(Min(OutboxRow.id)).where(_waiting()).group_by(OutboxRow.chat)))
                .order_by(OutboxRow.id)
                .limit(SCAN)
                .run()
            )
            free = [r for r in heads if r["claimed_until"] is None or r["claimed_until"] <= now]
            stale = [r["id"] for r in free if r["expires_at"] is not None and r["expires_at"] <= now]
            if stale:
                await self._expire(stale, now)
                continue  # those chats' next rows may be due now
            for row in free:
                if row["next_attempt_at"] > now:
                    continue
                won = (
                    await OutboxRow.update(
                        {
                            OutboxRow.claimed_by: holder,
                            OutboxRow.claimed_until: now + hold,
                            OutboxRow.attempts: OutboxRow.attempts + 1,
                        }
                    )
                    .where((OutboxRow.id == row["id"]) & _waiting() & _unclaimed(now))
                    .returning(OutboxRow.id, OutboxRow.chat, OutboxRow.kind, OutboxRow.text, OutboxRow.attempts, OutboxRow.expires_at)
                    .run()
                )
                if won:
                    r = won[0]
                    return Claimed(r["id"], r["chat"], r["kind"], r["text"], r["attempts"], r["expires_at"])
            return None

    async def _expire(self, row_ids: list[int], now: datetime) -> None:
        await OutboxRow.update({OutboxRow.expired_at: now, OutboxRow.last_error: EXPIRED}).where(
            OutboxRow.id.is_in(row_ids) & _waiting() & _unclaimed(now)
        ).run()

    async def expire(self, row_id: int, holder: str, now: datetime) -> None:
        """Drop a claimed row whose expiry passed before it could go (it waited for the limits)."""
        await OutboxRow.update(
            {OutboxRow.expired_at: now, OutboxRow.claimed_by: None, OutboxRow.claimed_until: None, OutboxRow.last_error: EXPIRED}
        ).where((OutboxRow.id == row_id) & (OutboxRow.claimed_by == holder) & OutboxRow.sent_at.is_null()).run()

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

    async def postpone(self, row_id: int, holder: str, at: datetime, error: str) -> None:
        """Give a claimed row back unsent, not to be tried before `at` (a FloodWait: nothing
        went out, so it does not count as an attempt). The chat's later rows wait behind it."""
        await OutboxRow.update(
            {
                OutboxRow.next_attempt_at: at,
                OutboxRow.claimed_by: None,
                OutboxRow.claimed_until: None,
                OutboxRow.attempts: OutboxRow.attempts - 1,
                OutboxRow.last_error: error[:500],
            }
        ).where((OutboxRow.id == row_id) & (OutboxRow.claimed_by == holder) & OutboxRow.sent_at.is_null()).run()

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
        waiting = _waiting()
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
        """Forget rows sent (or given up on, or expired) more than KEEP_SENT ago."""
        before = now - KEEP_SENT
        gone = await OutboxRow.delete().where(
            (OutboxRow.sent_at.is_not_null() & (OutboxRow.sent_at < before))
            | (OutboxRow.failed_at.is_not_null() & (OutboxRow.failed_at < before))
            | (OutboxRow.expired_at.is_not_null() & (OutboxRow.expired_at < before))
        ).returning(OutboxRow.id).run()
        return len(gone)


def _waiting() -> And:
    """Rows still to be sent: not sent, not given up on, not expired."""
    return OutboxRow.sent_at.is_null() & OutboxRow.failed_at.is_null() & OutboxRow.expired_at.is_null()


def _unclaimed(now: datetime) -> Or:
    return OutboxRow.claimed_until.is_null() | (OutboxRow.claimed_until <= now)
