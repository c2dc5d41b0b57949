"""The search key and rule shared by the API's `q` and the bot's name lookups."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.leaderboard.board import Board, Period, Row
from server.leaderboard.live import LiveBoards
from server.leaderboard.search import matches, search_key, search_keys, select
from tests.search_cases import KEYS


@pytest.mark.parametrize(("text", "key"), KEYS)
def test_search_key(text: str, key: str) -> None:
    assert search_key(text) == key


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("John  Smith", "john smith"),
        ("john smith", "John  Smith"),
        ("ＪＯＨＮ", "john"),
        ("john", "ＪＯＨＮ"),
        ("straße", "STRASSE"),
        ("STRASSE", "straße"),
        ("John\t\tSmith", "n s"),
        ("Big\u00a0\u00a0Winner 99", "g w"),
        ("Alice Wonder", "ALICE"),
        ("Alice Wonder", "ice wo"),
    ],
)
def test_a_query_matches_what_it_should(name: str, query: str) -> None:
    assert matches(search_key(query), search_key(name))


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("John Smith", "johnsmith"),  # spacing is collapsed, not removed
        ("Alice", "alice wonder"),
        ("Cafe", "café"),  # accents are not folded away
    ],
)
def test_a_query_does_not_match_what_it_should_not(name: str, query: str) -> None:
    assert not matches(search_key(query), search_key(name))


def test_an_empty_query_matches_everyone() -> None:
    assert all(matches(search_key(q), search_key(n)) for q in ("", " ", "\t\u00a0") for n in ("", "x", "John  Smith"))


def test_select_keeps_order_and_items() -> None:
    names = ["John  Smith", "Ann", "JOHN SMITHERS", "ｊｏｈｎ ｓｍｉｔｈ", "Jo Smith"]
    assert select(search_key("john smith"), names, search_keys(names)) == ["John  Smith", "JOHN SMITHERS", "ｊｏｈｎ ｓｍｉｔｈ"]
    assert select("nobody", names, search_keys(names)) == []
    assert search_keys(names) == ("john smith", "ann", "john smithers", "john smith", "jo smith")


@given(st.text())
def test_a_key_is_its_own_key_and_names_find_themselves(text: str) -> None:
    key = search_key(text)
    assert search_key(key) == key
    assert key == key.strip() and "  " not in key
    assert matches(search_key(text), key)  # a name typed back finds the name it came from
    assert matches(search_key(" \t".join(text.split())), key)  # however it is spaced


def test_a_big_board_is_searched_from_keys_built_once_per_version() -> None:
    rows = tuple(Row(i + 1, f"u{i:06d}", f"Player  {i:06d}", 1e6 - i) for i in range(100_000))
    live = LiveBoards()
    live.reset_to({Period.ALL_TIME: Board(Period.ALL_TIME, rows)}, seq=1, sync_id=1, synced_at=None)
    keys = live.name_keys(Period.ALL_TIME)
    assert keys[0] == "player 000000" and len(keys) == len(rows)
    start = time.perf_counter()
    for _ in range(10):
        hits = live.search(Period.ALL_TIME, "PLAYER ０９９９")
    per_search = (time.perf_counter() - start) / 10
    assert [r.uid for r in hits] == [f"u{i:06d}" for i in range(99_900, 100_000)]
    assert live.name_keys(Period.ALL_TIME) is keys  # not rebuilt per request
    assert live.search(Period.ALL_TIME, " \t") is rows  # blank: the board itself, no copy
    assert per_search < 0.1, f"{per_search * 1000:.0f} ms per search of 100,000 rows"
