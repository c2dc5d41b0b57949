"""Prepared frames: the bytes a viewer receives are a valid unmasked text frame of the text,
whatever its length, and a broadcast is framed once."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from server.realtime.frames import FrameCache, text_frame


def _parse(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        return done.value
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize(
    ("length", "header"),
    [
        (0, 2),  # 0x81 0x00
        (125, 2),  # the largest length in the first byte
        (126, 4),  # 126 + a 16-bit length
        (65_535, 4),
        (65_536, 10),  # 127 + a 64-bit length
    ],
)
def test_a_text_frame_has_the_shortest_header_and_the_text(length: int, header: int) -> None:
    text = "x" * length
    data = text_frame(text)
    assert len(data) == header + length
    assert data[0] == 0x81  # FIN, text, no RSV bits
    assert data[1] & 0x80 == 0  # not masked: server to client
    frame = _parse(data)
    assert frame.opcode is Opcode.TEXT and frame.fin and frame.data == text.encode()


def test_non_ascii_text_is_framed_as_utf8_bytes() -> None:
    text = '{"name":"Zoë 🐐"}'
    data = text_frame(text)
    assert data[1] == len(text.encode()) == 20
    assert _parse(data).data.decode() == text


def test_the_cache_frames_one_text_once_and_another_anew() -> None:
    cache = FrameCache()
    first = "".join(["delta", ":1"])  # built at run time: not an interned literal
    framed = cache.frame(first)
    assert cache.frame(first) is framed  # the same object for each viewer of a broadcast
    equal_but_other = "".join(["delta", ":1"])
    assert equal_but_other is not first
    assert cache.frame(equal_but_other) == framed  # a different object gets its own, equal, frame
    assert cache.frame("other") == text_frame("other")
