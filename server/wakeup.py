"""Wake-or-timeout: the one way a background loop sleeps until its next deadline or until
something changed, whichever comes first."""

from __future__ import annotations

import asyncio

__all__ = ["Wakeup"]


class Wakeup:
    """`set()` from anywhere (an event handler, an admin edit); `wait(seconds)` in the loop.

    A `set()` that arrives while the loop is busy is not lost: the next `wait` returns at
    once. Each `wait` consumes the wake-up it returns on.
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self, *_: object) -> None:
        """Wake the loop (extra arguments are ignored, so it can be an event handler)."""
        self._event.set()

    async def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if woken before then."""
        try:
            await asyncio.wait_for(self._event.wait(), max(seconds, 0.0))
        except TimeoutError:
            return False
        finally:
            self._event.clear()
        return True
