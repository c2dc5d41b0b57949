"""One bot per deployment: a lease row in `app_state` that one process holds and renews.

Telegram delivers a bot's updates to every connected session, so two running bots would
answer every command twice. Whichever process takes the lease runs the bot; the others
stand by and take over when it stops renewing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.db.tables import AppState

KEY = "telegram_bot_lease"
USERNAME_KEY = "telegram_bot_username"  # also in app_state: the running bot's @username, for the login widget
TTL = timedelta(seconds=30)
RENEW = 10.0  # seconds between renewals (a third of the TTL)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Lease:
    def __init__(self, holder: str, ttl: timedelta = TTL) -> None:
        self.holder = holder
        self.ttl = ttl

    async def acquire(self, now: datetime) -> bool:
        """Take or renew the lease; False while another holder's is still fresh.

        A conditional UPDATE, so of two processes trying at once exactly one gets the row."""
        await AppState.insert(AppState(key=KEY, value="", updated_at=_EPOCH)).on_conflict(
            target=AppState.key, action="DO NOTHING"
        ).run()
        rows = (
            await AppState.update({AppState.value: self.holder, AppState.updated_at: now})
            .where((AppState.key == KEY) & ((AppState.value == self.holder) | (AppState.updated_at < now - self.ttl)))
            .returning(AppState.key)
            .run()
        )
        return bool(rows)

    async def release(self) -> None:
        """Let another process take over at once (a clean shutdown)."""
        await AppState.update({AppState.updated_at: _EPOCH}).where(
            (AppState.key == KEY) & (AppState.value == self.holder)
        ).run()
