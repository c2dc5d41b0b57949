"""The idle viewer's receive queue and writable gate (server/realtime/edge.py): the parts of
`asyncio.Queue` and `asyncio.Event` that uvicorn's websocket protocol uses, with nothing held
while idle."""

from __future__ import annotations

import asyncio

import pytest

from server.realtime.edge import Gate, Inbox


def message(n: int) -> dict[str, object]:
    return {"type": "websocket.receive", "text": f"m{n}"}


async def test_messages_come_out_in_the_order_they_went_in() -> None:
    inbox = Inbox(asyncio.get_running_loop())
    for n in range(5):
        inbox.put_nowait(message(n))  # type: ignore[arg-type]
    assert inbox.qsize() == 5 and not inbox.empty()
    got = [(await inbox.get())["text"] for _ in range(5)]  # type: ignore[typeddict-item]
    assert got == ["m0", "m1", "m2", "m3", "m4"]
    assert inbox.empty() and inbox.qsize() == 0


async def test_a_reader_waits_until_a_message_arrives() -> None:
    inbox = Inbox(asyncio.get_running_loop())
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0.01)
    assert not reader.done()
    inbox.put_nowait(message(1))  # type: ignore[arg-type]
    assert (await asyncio.wait_for(reader, 1))["text"] == "m1"  # type: ignore[typeddict-item]


async def test_a_cancelled_read_loses_no_message() -> None:
    """The app's idle timeout cancels its `receive()`; what arrives around it stays queued."""
    inbox = Inbox(asyncio.get_running_loop())
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await inbox.get()
    reader = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait(message(1))  # type: ignore[arg-type]
    inbox.put_nowait(message(2))  # type: ignore[arg-type]
    reader.cancel()  # woken, but cancelled before it ran
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert [(await inbox.get())["text"] for _ in range(2)] == ["m1", "m2"]  # type: ignore[typeddict-item]


async def test_an_idle_inbox_holds_no_container_and_no_future() -> None:
    inbox = Inbox(asyncio.get_running_loop())
    inbox.put_nowait(message(1))  # type: ignore[arg-type]
    await inbox.get()
    assert inbox._items is None and inbox._waiter is None


async def test_an_open_gate_lets_a_writer_through_at_once() -> None:
    gate = Gate(asyncio.get_running_loop())
    assert gate.is_set()
    assert await asyncio.wait_for(gate.wait(), 0.1) is True


async def test_a_shut_gate_holds_every_writer_until_it_opens() -> None:
    gate = Gate(asyncio.get_running_loop())
    gate.clear()
    assert not gate.is_set()
    writers = [asyncio.create_task(gate.wait()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in writers)
    gate.set()
    gate.clear()  # shut again before they ran: they were let through all the same, as with Event
    assert await asyncio.wait_for(asyncio.gather(*writers), 1) == [True, True, True]
    assert gate._waiters is None


async def test_a_writer_that_gives_up_leaves_nothing_behind() -> None:
    gate = Gate(asyncio.get_running_loop())
    gate.clear()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await gate.wait()
    assert gate._waiters is None
    other = asyncio.create_task(gate.wait())
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.wait_for(other, 1) is True
