import msgspec
import pytest

from server.errors import UpstreamPayloadError
from server.leaderboard.identity import clean_name, clip, is_uid, placeholder_name
from server.upstream.contract import decode


def body(data: object, **extra: object) -> bytes:
    return msgspec.json.encode({"success": True, "data": data, "today": 1.5, "this_week": 2.5, **extra})


def entry(uid: str = "A" * 20, name: str = "whale-1", **w: object) -> dict[str, object]:
    wagered = {"today": 0, "this_week": 0, "this_month": 0, "all_time": 0} | w
    return {"uid": uid, "name": name, "wagered": wagered}


GOOD = entry("G" * 20, "good-one", today=5, this_week=6, this_month=7, all_time=8)


def test_decodes_the_contract_with_full_precision() -> None:
    decoded = decode(body([entry(today=0.001, this_week=12.3456789012345, this_month=100, all_time=457433.95)]))
    (p,) = decoded.players
    assert (p.today, p.weekly, p.monthly, p.all_time) == (0.001, 12.3456789012345, 100.0, 457433.95)
    assert p.name == "whale-1"
    assert decoded.refused == []


def test_unknown_extra_fields_are_accepted() -> None:
    e = entry() | {"avatar": "x"}
    e["wagered"] = e["wagered"] | {"this_year": 5}  # type: ignore[operator]
    assert len(decode(body([e], generated_at="now")).players) == 1


def test_numbers_sent_as_strings_are_read_as_numbers() -> None:
    (p,) = decode(body([entry(today="12.5", this_week="13")])).players
    assert (p.today, p.weekly) == (12.5, 13.0)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "does not match"),
        (msgspec.json.encode({"success": True, "data": {"uid": "x"}}), r"\$\.data"),
        (msgspec.json.encode({"success": False, "data": []}), "success=false"),
        (msgspec.json.encode({"data": []}), "success"),
    ],
)
def test_a_broken_envelope_refuses_the_whole_payload(payload: bytes, reason: str) -> None:
    with pytest.raises(UpstreamPayloadError, match=reason):
        decode(payload)


@pytest.mark.parametrize(
    ("row", "reason", "detail"),
    [
        ({"uid": "x", "name": "y"}, "shape", "wagered"),
        ({"uid": 5, "name": "y", "wagered": {}}, "shape", "uid"),
        (entry(today="lots"), "shape", "today"),
        (entry(uid="u" * 65), "uid", "65 chars"),
        (entry(uid="u" * 70), "uid", "70 chars"),
        (entry(uid=" "), "uid", "0 chars"),
        (entry(uid="a/b"), "uid", "a/b"),
        (entry(uid="a\u0000b"), "uid", r"a\\x00b"),
        (entry(uid="ü" * 20), "uid", "20 chars"),
        (entry(today=-1), "amount", "today is -1"),
        (entry(all_time=None), "shape", "all_time"),
    ],
)
def test_a_row_off_the_rules_is_refused_alone(row: dict[str, object], reason: str, detail: str) -> None:
    decoded = decode(body([GOOD, row, entry("H" * 20, "after")]))
    assert [p.uid for p in decoded.players] == ["G" * 20, "H" * 20]
    (refused,) = decoded.refused
    assert (refused.index, refused.reason) == (1, reason)
    assert __import__("re").search(detail, refused.detail), refused.detail


def test_an_amount_beyond_a_double_is_refused() -> None:
    row = b'{"uid":"BIG","name":"x","wagered":{"today":1e999,"this_week":0,"this_month":0,"all_time":0}}'
    decoded = decode(b'{"success":true,"data":[' + msgspec.json.encode(GOOD) + b"," + row + b"]}")
    assert [p.uid for p in decoded.players] == ["G" * 20]
    assert [(r.index, r.reason, r.detail) for r in decoded.refused] == [
        (1, "shape", "data[1]: Number out of range - at `$.wagered.today`")
    ]


def test_a_repeated_uid_keeps_the_first_row() -> None:
    decoded = decode(body([entry(name="first", today=1), entry(name="second", today=2)]))
    assert [(p.name, p.today) for p in decoded.players] == [("first", 1.0)]
    assert [(r.index, r.reason) for r in decoded.refused] == [(1, "duplicate")]


@pytest.mark.parametrize(
    "uid",
    ["A" * 20, "3f2b8c1e-7d4a-4e1b-9c55-0a1b2c3d4e5f", "a", "x" * 64, "under_score", "-lead"],
)
def test_uid_rule_accepts(uid: str) -> None:
    assert is_uid(uid)
    assert [p.uid for p in decode(body([entry(uid=uid)])).players] == [uid]


@pytest.mark.parametrize("uid", ["", "x" * 65, "a b", "a.b", "a/b", "a%2Fb", "ü", "a\n", "😀"])
def test_uid_rule_refuses(uid: str) -> None:
    assert not is_uid(uid)


def test_surrounding_whitespace_of_a_uid_is_trimmed() -> None:
    assert [p.uid for p in decode(body([entry(uid="  abc123  ")])).players] == ["abc123"]


UID = "abcdefghij0123456789"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("whale-1", "whale-1"),
        ("Dan\u0000ny", "Danny"),  # NUL: PostgreSQL refuses it in text
        ("a\u0007b\u001bc\u007fd\u0090e", "abcde"),  # C0 and C1 controls
        ("a\u0085b\u2028c", "a b c"),  # line breaks are whitespace
        ("\u202eevil", "evil"),  # right-to-left override
        ("a\u2066b\u2069c\u200fd\u061ce", "abcde"),  # isolates and marks
        ("\u200b", placeholder_name(UID)),  # only a zero-width space
        ("\u200b\u200d\ufeff \u2060", placeholder_name(UID)),
        ("", placeholder_name(UID)),
        ("   ", placeholder_name(UID)),
        ("John  Smith", "John Smith"),
        ("  John\t\n Smith\u00a0\u3000Jr ", "John Smith Jr"),
        ("Ze\u0301", "Z\u00e9"),  # NFC
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467 fam", "\U0001f468\u200d\U0001f469\u200d\U0001f467 fam"),  # ZWJ kept inside an emoji
        ("\u200dab\u200d", "ab"),  # ZWJ at the edges is dropped
        ("x" * 48, "x" * 48),
        ("x" * 49, "x" * 47 + "…"),
        ("x" * 5000, "x" * 47 + "…"),
        ("\U0001f1fa\U0001f1f8" * 60, "\U0001f1fa\U0001f1f8" * 47 + "…"),  # flags never split
        ("Ünïcödé-名前", "Ünïcödé-名前"),
    ],
)
def test_names_are_cleaned_at_the_edge(raw: str, shown: str) -> None:
    assert clean_name(raw, UID) == shown
    (player,) = decode(body([entry(uid=UID, name=raw)])).players
    assert player.name == shown


def test_a_cleaned_name_is_stable() -> None:
    for raw in ("Dan\u0000ny", "x" * 5000, "\u202eevil", "\U0001f1fa\U0001f1f8" * 60, "e\u0301" * 100):
        once = clean_name(raw, UID)
        assert clean_name(once, UID) == once


def test_a_name_of_stacked_marks_is_bounded_in_code_points() -> None:
    name = clean_name("a" + "\u0301" * 5000, UID)
    assert len(name) <= 160


def test_clip_counts_graphemes() -> None:
    flag = "\U0001f1fa\U0001f1f8"
    assert clip(flag * 3, 3) == flag * 3
    assert clip(flag * 4, 3) == flag * 2 + "…"
    assert clip("abc", 3) == "abc"
    assert clip("abcd", 3) == "ab…"
