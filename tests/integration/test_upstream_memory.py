"""An upstream answer is freed when its sync is done with it, not left to the garbage collector.

The server runs the collector's full passes rarely (server/serve.py, tune_gc), so whatever sits
in cyclic garbage stays for a long time. httpx keeps a body read whole on its Response, which is
in a reference cycle: the server then grew by one upstream answer a sync (docs/performance.md,
Soak). These tests fetch over real HTTP from the simulated upstream and look at what a full
collection would free.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from server.upstream.client import GoatedClient
from tests.conftest import SIM_TOKEN, running_sim

BIG = 50_000  # bytes: a 2,000-player answer is ~230,000; nothing else in a fetch comes near


@contextmanager
def cyclic_garbage() -> Iterator[list[object]]:
    """Yields a list that, after the block, holds every object only a collection would free."""
    found: list[object] = []
    gc.collect()
    gc.disable()
    try:
        yield found
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        found.extend(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def big_buffers(objects: list[object]) -> list[int]:
    """Sizes of the bytes/bytearray/str of `BIG` or more that `objects` refer to."""
    return [
        len(ref)
        for obj in objects
        for ref in gc.get_referents(obj)
        if isinstance(ref, (bytes, bytearray, str)) and len(ref) >= BIG
    ]


async def test_a_fetched_answer_is_not_left_in_cyclic_garbage() -> None:
    async with running_sim(players=2000) as sim, httpx.AsyncClient() as http:
        client = GoatedClient(http, sim.base_url, "TESTCODE", SIM_TOKEN)
        await client.fetch()  # the pool's connection is made once, outside the measure
        with cyclic_garbage() as garbage:
            for _ in range(3):
                fetched = await client.fetch()
        assert len(fetched.players) == 2000
        assert big_buffers(garbage) == []


async def test_the_check_sees_an_answer_read_whole() -> None:
    """The check above can fail: a response read whole (`get`, `.content`) leaves its body in
    cyclic garbage, one per request."""
    async with running_sim(players=2000) as sim, httpx.AsyncClient() as http:
        url = f"{sim.base_url}/affiliate/referral-leaderboard/TESTCODE"
        headers = {"Authorization": f"Bearer {SIM_TOKEN}"}
        await http.get(url, headers=headers)
        with cyclic_garbage() as garbage:
            for _ in range(3):
                body = (await http.get(url, headers=headers)).content
        assert len(body) > BIG
        assert big_buffers(garbage) == [len(body)] * 3
