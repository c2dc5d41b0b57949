"""The Goated affiliate API client: one GET, typed decoding, faults mapped to our errors."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from server.errors import (
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from server.leaderboard.board import Player
from server.upstream.contract import RefusedRow, decode


class Fetched:
    """A decoded snapshot (and the rows refused from it) plus how long the request took."""

    __slots__ = ("players", "refused", "status", "elapsed", "decode_seconds")

    def __init__(
        self, players: list[Player], status: int, elapsed: float, decode_seconds: float, refused: list[RefusedRow] | None = None
    ):
        self.players = players
        self.refused = refused or []
        self.status = status
        self.elapsed = elapsed
        self.decode_seconds = decode_seconds


class GoatedClient:
    """Reads `{base}/affiliate/referral-leaderboard/{code}` with the bearer token."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, code: str, token: str | None):
        self._http = http
        self._url = f"{base_url.rstrip('/')}/affiliate/referral-leaderboard/{code}"
        self._token = token
        # Called with (HTTP status or "timeout"/"error", seconds) after every request (/metrics).
        self.observers: list[Callable[[str, float], None]] = []

    @property
    def url(self) -> str:
        return self._url

    def set_token(self, token: str | None) -> None:
        self._token = token

    async def fetch(self) -> Fetched:
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        started = time.perf_counter()
        try:
            # Streamed, and the body joined into bytes of our own: a response read whole keeps
            # its body on the httpx Response, which sits in a reference cycle (its stream points
            # back at it). Garbage in a cycle waits for the collector's rare full passes, and
            # at one upstream answer a sync (~0.25 MB at 2,000 players, ~12 MB at 100,000) that
            # grew the server by the size of every answer (docs/performance.md, Soak).
            async with self._http.stream("GET", self._url, headers=headers) as response:
                status = response.status_code
                retry_after = response.headers.get("Retry-After")
                body = b"".join([chunk async for chunk in response.aiter_bytes()]) if status == 200 else b""
        except httpx.TimeoutException as exc:
            self._observe("timeout", started)
            raise UpstreamUnavailable(f"upstream timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            self._observe("error", started)
            raise UpstreamUnavailable(f"upstream unreachable: {type(exc).__name__}: {exc}") from None
        elapsed = self._observe(str(status), started)
        if status in (401, 403):
            raise UpstreamAuthError(f"upstream answered {status}: token expired or revoked")
        if status == 429:
            raise UpstreamRateLimited(
                "upstream answered 429 (rate limited)",
                retry_after=parse_retry_after(retry_after),
            )
        if status >= 500:
            raise UpstreamUnavailable(f"upstream answered {status}")
        if status != 200:
            raise UpstreamError(f"upstream answered unexpected status {status}")
        decode_started = time.perf_counter()
        decoded = decode(body)
        return Fetched(decoded.players, status, elapsed, time.perf_counter() - decode_started, decoded.refused)

    def _observe(self, outcome: str, started: float) -> float:
        elapsed = time.perf_counter() - started
        for observe in self.observers:
            observe(outcome, elapsed)
        return elapsed


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; HTTP dates are rare upstream)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)
