"""Prepared websocket frames: a broadcast is framed once and the same bytes go to every viewer.

Server-to-client frames are not masked (RFC 6455 §5.1), so the frame carrying one text is
the same for every connection that did not negotiate an extension. Framing is websockets'
own `Frame.serialize`; what is ours is only doing it once per broadcast instead of once per
viewer, as the fastest C++ and Go servers do ("prepared" messages).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from websockets.frames import Frame, Opcode

T = TypeVar("T")

# The ASGI scope extension under which the server's websocket protocol offers to write a
# prepared frame straight to the connection (server/realtime/edge.py).
PREPARED_EXTENSION = "goated.prepared_frames"


def text_frame(text: str) -> bytes:
    """One final, unmasked text frame carrying `text` (UTF-8)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


class PerText(Generic[T]):
    """What `make` gives for each of the last `size` texts, matched by identity. A broadcast
    hands the same `str` object to every viewer of a channel, so whatever is made of it (a
    websocket frame, an event-stream chunk) is made once per broadcast, not once per viewer;
    an equal text that is another object gets its own."""

    __slots__ = ("_make", "_size", "_made")

    def __init__(self, make: Callable[[str], T], size: int = 8) -> None:
        self._make = make
        self._size = size
        self._made: dict[int, tuple[str, T]] = {}

    def get(self, text: str) -> T:
        hit = self._made.get(id(text))
        if hit is not None and hit[0] is text:
            return hit[1]
        made = self._make(text)
        if len(self._made) >= self._size:
            del self._made[next(iter(self._made))]
        self._made[id(text)] = (text, made)
        return made


class FrameCache(PerText[bytes]):
    """The prepared frames of the last few broadcasts."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(text_frame)

    def frame(self, text: str) -> bytes:
        return self.get(text)
