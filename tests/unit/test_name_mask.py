"""NAME_MASK=partial: the one masking rule, on names of every length and script."""

from __future__ import annotations

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

from server.errors import ConfigError
from server.leaderboard.board import Player
from server.leaderboard.identity import clean_name
from server.leaderboard.privacy import HIDDEN, NameMask, mask_name, public_name, public_players, revealed
from server.settings import Settings

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one grapheme: man ZWJ woman ZWJ girl
FLAG = "\U0001f1fa\U0001f1e6"  # one grapheme: two regional indicators
E_ACUTE = "e\u0301"  # one grapheme: e + combining acute


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        # 5 or more characters: the first two and the last
        ("Alexander", "Al***r"),
        ("Alice", "Al***e"),
        ("Bobby", "Bo***y"),
        ("xX_SlayerKing_Xx", "xX***x"),
        ("Player 1a2b3c4d", "Pl***d"),  # the placeholder of a nameless player too
        ("Jo Smith", "Jo***h"),
        ("A Bcde", "A***e"),  # no space left against the stars
        ("张伟强大人", "张伟***人"),
        ("Zoë Smith", "Zo***h"),
        (f"{FAMILY}Family", f"{FAMILY}F***y"),  # the family emoji is one character
        (f"{E_ACUTE}clair", f"{E_ACUTE}c***r"),  # a letter with its combining mark stays whole
        (f"Ann{FLAG}{FLAG}", f"An***{FLAG}"),
        # 4: the first and the last
        ("Anna", "A***a"),
        ("Ivan", "I***n"),
        (f"{FLAG}{FLAG}{FLAG}{FLAG}", f"{FLAG}***{FLAG}"),
        # 3 and 2: the first only
        ("Bob", "B***"),
        ("Zoë", "Z***"),
        ("Al", "A***"),
        (f"{E_ACUTE}d", f"{E_ACUTE}***"),
        (f"{FLAG}{FLAG}", f"{FLAG}***"),
        # 1: nothing
        ("X", "***"),
        (FAMILY, "***"),
    ],
)
def test_the_mask_of(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("length", "shown"), [(1, (0, 0)), (2, (1, 0)), (3, (1, 0)), (4, (1, 1)), (5, (2, 1)), (6, (2, 1)), (48, (2, 1))]
)
def test_how_much_each_length_reveals(length: int, shown: tuple[int, int]) -> None:
    assert revealed(length) == shown


def test_the_stars_do_not_tell_the_length() -> None:
    assert {mask_name(n).count("*") for n in ("Al", "Bob", "Anna", "Alice", "Alexander", "A" * 48)} == {3}
    assert mask_name("Alice") == mask_name("Alxxxxxxxxxxxxxxxxxxxxe")


_graphemes = regex.compile(r"\X")


@given(st.text(min_size=1, max_size=60))
def test_never_more_than_two_and_one_and_never_the_whole_name(raw: str) -> None:
    name = clean_name(raw, "u1")  # what a board holds: names come in cleaned
    masked = mask_name(name)
    clusters = _graphemes.findall(name)
    assert masked.count(HIDDEN) >= 1
    shown = masked.replace(HIDDEN, "", 1)
    shown_clusters = _graphemes.findall(shown)
    assert len(shown_clusters) <= 3
    assert len(shown_clusters) < len(clusters)  # at least one character is always hidden
    head, tail = revealed(len(clusters))
    hidden = len(clusters) - head - tail
    assert hidden >= (2 if len(clusters) >= 3 else 1)
    assert masked.startswith("".join(clusters[:head]).rstrip())


def test_public_players_mask_the_name_and_keep_the_real_one_aside() -> None:
    players = [Player("u1", "Alexander", 1.0, 2.0, 3.0, 4.0), Player("u2", "Bob", 0.0, 0.0, 0.0, 5.0)]
    shown = public_players(players, NameMask.PARTIAL)
    assert [(p.uid, p.name, p.real_name) for p in shown] == [("u1", "Al***r", "Alexander"), ("u2", "B***", "Bob")]
    assert [(p.today, p.weekly, p.monthly, p.all_time) for p in shown] == [(1.0, 2.0, 3.0, 4.0), (0.0, 0.0, 0.0, 5.0)]
    assert public_players(shown, NameMask.PARTIAL) == shown  # masking the masked changes nothing
    assert public_players(players, NameMask.OFF) == players
    assert all(p.real_name is None for p in public_players(players, NameMask.OFF))


def test_public_name_follows_the_setting() -> None:
    assert public_name("Alexander", NameMask.PARTIAL) == "Al***r"
    assert public_name("Alexander", NameMask.OFF) == "Alexander"


def test_name_mask_setting() -> None:
    assert Settings.from_env({}).name_mask is NameMask.OFF
    assert Settings.from_env({"NAME_MASK": "partial"}).name_mask is NameMask.PARTIAL
    assert Settings.from_env({"NAME_MASK": " Partial "}).name_mask is NameMask.PARTIAL
    assert Settings.from_env({"NAME_MASK": "off"}).name_mask is NameMask.OFF
    with pytest.raises(ConfigError, match=r"NAME_MASK='full' is not valid: must be off or partial"):
        Settings.from_env({"NAME_MASK": "full"})
