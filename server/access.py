"""Who is asking: client addresses (proxy headers only from trusted proxies), the HTTP
rate limit, and a store that keeps limiting per process when Redis is away."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.stores.redis import RedisStore
from redis.asyncio import Redis
from redis.exceptions import RedisError


log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(raw: str) -> tuple[Network, ...]:
    """`TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges."""
    networks = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or network") from None
    return tuple(networks)


def _trusted(host: str, proxies: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in net for net in proxies)


def client_address(connection: ASGIConnection[Any, Any, Any, Any], proxies: Sequence[Network]) -> str:
    """The peer's address; behind a trusted proxy, the nearest untrusted hop of
    X-Forwarded-For (a client can prepend anything to that header, not append)."""
    peer = connection.client.host if connection.client else "unknown"
    return _nearest_untrusted(peer, connection.headers.get("x-forwarded-for", ""), proxies)


def scope_client_address(scope: Mapping[str, Any], proxies: Sequence[Network]) -> str:
    """`client_address` for a bare ASGI scope (the `/ws` endpoint, server/realtime/socket.py);
    repeated X-Forwarded-For headers count as one list, as HTTP defines."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not proxies or not _trusted(peer, proxies):
        return peer
    forwarded = ",".join(value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"x-forwarded-for")
    return _nearest_untrusted(peer, forwarded, proxies)


def _nearest_untrusted(peer: str, forwarded_for: str, proxies: Sequence[Network]) -> str:
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


def client_scheme(connection: ASGIConnection[Any, Any, Any, Any], proxies: Sequence[Network]) -> str:
    """The scheme the client used, "https" or "http": the connection's own, or behind a
    trusted proxy its X-Forwarded-Proto (the first value: the hop nearest the client)."""
    peer = connection.client.host if connection.client else "unknown"
    if proxies and _trusted(peer, proxies):
        forwarded = connection.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if forwarded in ("http", "https"):
            return forwarded
    return "https" if connection.url.scheme in ("https", "wss") else "http"


def rate_limit_config(per_minute: int, proxies: Sequence[Network]) -> RateLimitConfig:
    def identify(request: Request[Any, Any, Any]) -> str:
        return client_address(request, proxies)

    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        exclude=["/static", "/schema", "/health", "/metrics"],
        identifier_for_request=identify,
        store="rate_limit",
    )


class FailOpenStore(Store):
    """Redis when it answers (one limit across replicas); this process's memory when it
    does not, so a Redis outage never turns into 500s for every request."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._redis_store = RedisStore(redis, namespace=namespace)
        self._local = MemoryStore()
        self.failures = 0

    async def _call(self, name: str, *args: Any) -> Any:
        try:
            return await getattr(self._redis_store, name)(*args)
        except (RedisError, OSError) as exc:
            if self.failures == 0:
                log.warning("rate limits fall back to per-process memory: redis %s", exc)
            self.failures += 1
            return await getattr(self._local, name)(*args)

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        await self._call("set", key, value, expires_in)

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        return await self._call("get", key, renew_for)

    async def delete(self, key: str) -> None:
        await self._call("delete", key)

    async def delete_all(self) -> None:
        await self._call("delete_all")

    async def exists(self, key: str) -> bool:
        return await self._call("exists", key)

    async def expires_in(self, key: str) -> int | None:
        return await self._call("expires_in", key)

    async def aclose(self) -> None:
        """Close the Redis connections (the app's lifespan calls this on shutdown)."""
        await self._redis.aclose()


def rate_limit_store(redis_url: str | None, namespace: str) -> Callable[[], Store]:
    if redis_url is None:
        return MemoryStore
    return lambda: FailOpenStore(Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1), namespace)
