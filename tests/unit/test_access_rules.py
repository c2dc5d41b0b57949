import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from litestar.connection import ASGIConnection

from server.access import Network, client_address, parse_networks, scope_client_address
from server.errors import BadRequest
from server.upstream.token import TokenKeeper, jwt_expiry


def jwt(exp: float | None, **claims: object) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    body = {"uid": "u1", "session": "s", "iat": 1} | claims
    if exp is not None:
        body["exp"] = exp
    return f"{part({'alg': 'HS256'})}.{part(body)}.c2lnbmF0dXJl"


def scope(peer: str, forwarded: str | None = None) -> dict[str, object]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"type": "http", "client": (peer, 1234), "headers": headers}


def by_request(peer: str, forwarded: str | None, proxies: tuple[Network, ...]) -> str:
    return client_address(ASGIConnection(scope(peer, forwarded)), proxies)  # type: ignore[arg-type]


def by_scope(peer: str, forwarded: str | None, proxies: tuple[Network, ...]) -> str:
    return scope_client_address(scope(peer, forwarded), proxies)


# HTTP requests (through Litestar) and /ws connections (a bare ASGI scope) read the same way.
@pytest.mark.parametrize("address", [by_request, by_scope])
def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(address: Callable[..., str]) -> None:
    assert address("203.0.113.9", "1.2.3.4", ()) == "203.0.113.9"
    proxies = parse_networks("10.0.0.0/8, 127.0.0.1")
    assert address("203.0.113.9", "1.2.3.4", proxies) == "203.0.113.9"
    # Behind the proxy: the nearest untrusted hop, not whatever the client prepended.
    assert address("10.1.2.3", "6.6.6.6, 198.51.100.7", proxies) == "198.51.100.7"
    assert address("10.1.2.3", "198.51.100.7, 10.9.9.9", proxies) == "198.51.100.7"
    assert address("127.0.0.1", None, proxies) == "127.0.0.1"
    assert address("10.1.2.3", "10.9.9.9", proxies) == "10.9.9.9"  # every hop trusted: the farthest


def test_repeated_forwarded_for_headers_are_one_list_on_a_socket() -> None:
    proxies = parse_networks("10.0.0.0/8")
    two = {"type": "websocket", "client": ("10.1.2.3", 1), "headers": [
        (b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"198.51.100.7, 10.9.9.9"),
    ]}
    assert scope_client_address(two, proxies) == "198.51.100.7"
    assert scope_client_address({"type": "websocket", "client": None, "headers": []}, proxies) == "unknown"


def test_bad_proxy_list_names_the_entry() -> None:
    with pytest.raises(ValueError, match="banana"):
        parse_networks("10.0.0.0/8,banana")


def test_jwt_expiry_is_read_without_verifying() -> None:
    exp = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
    assert jwt_expiry(jwt(exp.timestamp())) == exp
    assert jwt_expiry(jwt(None)) is None
    assert jwt_expiry("not-a-jwt") is None
    assert jwt_expiry("a.%%%.c") is None


def test_token_warns_an_hour_ahead_and_after_expiry() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    keeper = TokenKeeper(jwt((now + timedelta(hours=5)).timestamp()), source="env")
    assert keeper.warning(now) is None
    assert "expires in 59 min" in (keeper.warning(now + timedelta(hours=4, minutes=1)) or "")
    assert "expired" in (keeper.warning(now + timedelta(hours=6)) or "")
    status = keeper.status(now)
    assert status["expires_in_s"] == 5 * 3600 and keeper.token not in repr(status)


def test_replacing_the_token_refuses_junk_and_expired_ones() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    keeper = TokenKeeper(None, source="env")
    for junk in ("", "two words", "Bearer abc.def.ghi"):
        with pytest.raises(BadRequest):
            keeper.replace(junk, now)
    with pytest.raises(BadRequest, match="already expired"):
        keeper.replace(jwt((now - timedelta(minutes=1)).timestamp()), now)
    fresh = jwt((now + timedelta(hours=24)).timestamp())
    keeper.replace(fresh, now)
    assert keeper.token == fresh and keeper.source == "admin"
