import msgspec
import pytest

from server.errors import UpstreamPayloadError
from server.upstream.contract import decode


def body(data: object, **extra: object) -> bytes:
    return msgspec.json.encode({"success": True, "data": data, "today": 1.5, "this_week": 2.5, **extra})


def entry(uid: str = "A" * 20, name: str = "whale-1", **w: float) -> dict[str, object]:
    wagered = {"today": 0, "this_week": 0, "this_month": 0, "all_time": 0} | w
    return {"uid": uid, "name": name, "wagered": wagered}


def test_decodes_the_contract_with_full_precision() -> None:
    players = decode(body([entry(today=0.001, this_week=12.3456789012345, this_month=100, all_time=457433.95)]))
    (p,) = players
    assert (p.today, p.weekly, p.monthly, p.all_time) == (0.001, 12.3456789012345, 100.0, 457433.95)
    assert p.name == "whale-1"


def test_unknown_extra_fields_are_accepted() -> None:
    e = entry() | {"avatar": "x"}
    e["wagered"] = e["wagered"] | {"this_year": 5}  # type: ignore[operator]
    assert len(decode(body([e], generated_at="now"))) == 1


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "does not match"),
        (msgspec.json.encode({"success": True, "data": {"uid": "x"}}), r"\$\.data"),
        (msgspec.json.encode({"success": True, "data": [{"uid": "x", "name": "y"}]}), "wagered"),
        (body([entry(today="12")]), "today"),  # type: ignore[arg-type]
        (msgspec.json.encode({"success": False, "data": []}), "success=false"),
        (body([entry(), entry()]), "repeats uid"),
        (body([entry(today=-1)]), "today"),
        (body([entry(uid=" ")]), "empty uid"),
    ],
)
def test_a_payload_off_the_contract_is_refused_whole(payload: bytes, reason: str) -> None:
    with pytest.raises(UpstreamPayloadError, match=reason):
        decode(payload)
