"""Retries with full-jitter backoff, Retry-After queuing and a circuit breaker around
the upstream call; a sync never outlives its time budget."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pybreaker

from server.backoff import full_jitter
from server.errors import UpstreamError, UpstreamRateLimited, UpstreamUnavailable
from server.upstream.client import Fetched, GoatedClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base: float = 1.0  # first backoff ceiling, seconds
    cap: float = 30.0
    budget: float = 120.0  # a sync gives up after this long, retries included

    @classmethod
    def for_interval(cls, interval: float) -> RetryPolicy:
        """Keep a sync well inside its interval so it never overruns the next one."""
        budget = max(2.0, min(120.0, interval * 0.6))
        return cls(base=min(1.0, budget / 8), cap=max(0.5, budget / 3), budget=budget)

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt))."""
        return full_jitter(attempt, self.base, self.cap, rand)


class _Transitions(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state, new_state) -> None:  # type: ignore[no-untyped-def]
        if old_state.name != new_state.name:  # close() on a closed breaker "changes" it too
            log.warning("upstream circuit breaker: %s -> %s", old_state.name, new_state.name)


def make_breaker(fail_max: int = 5, reset_timeout: float = 60.0) -> pybreaker.CircuitBreaker:
    """Counts only 'upstream is down' failures: an answer we refuse (bad payload, expired
    token, rate limit) proves the upstream is up."""
    return pybreaker.CircuitBreaker(
        fail_max=fail_max,
        reset_timeout=reset_timeout,
        exclude=[lambda exc: not isinstance(exc, UpstreamUnavailable)],
        listeners=[_Transitions()],
        name="goated-upstream",
    )


class ResilientUpstream:
    """What the sync calls instead of the bare client."""

    def __init__(
        self,
        client: GoatedClient,
        policy: RetryPolicy,
        breaker: pybreaker.CircuitBreaker,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.policy = policy
        self.breaker = breaker
        self._sleep = sleep
        self._monotonic = monotonic
        self._rand = rand
        self._not_before = 0.0  # honour the last Retry-After across syncs
        self.attempts_total = 0
        self.retries_total = 0

    @property
    def url(self) -> str:
        return self.client.url

    def breaker_state(self) -> dict[str, object]:
        return {
            "state": self.breaker.current_state,
            "failures": self.breaker.fail_counter,
            "fail_max": self.breaker.fail_max,
            "reset_timeout_s": self.breaker.reset_timeout,
        }

    def rate_limited_for(self) -> float:
        return max(0.0, self._not_before - self._monotonic())

    async def fetch(self) -> Fetched:
        deadline = self._monotonic() + self.policy.budget
        attempt = 0
        while True:
            wait = self.rate_limited_for()
            if wait:
                if self._monotonic() + wait > deadline:
                    raise UpstreamRateLimited(f"rate limited: next request allowed in {wait:.0f} s", retry_after=wait)
                await self._sleep(wait)
            try:
                return await self._attempt()
            except UpstreamRateLimited as exc:
                delay = exc.retry_after if exc.retry_after is not None else self.policy.backoff(attempt, self._rand)
                self._not_before = self._monotonic() + delay  # the loop's top waits it out
                error: UpstreamError = exc
                pause = 0.0
            except UpstreamUnavailable as exc:
                if self.breaker.current_state == pybreaker.STATE_OPEN:
                    raise
                delay = pause = self.policy.backoff(attempt, self._rand)
                error = exc
            attempt += 1
            if attempt >= self.policy.attempts or self._monotonic() + delay > deadline:
                raise error
            self.retries_total += 1
            log.info("upstream attempt %d failed (%s); retrying in %.1f s", attempt, error, delay)
            if pause:
                await self._sleep(pause)

    async def _attempt(self) -> Fetched:
        self.attempts_total += 1
        try:
            with self.breaker.calling():
                return await self.client.fetch()
        except pybreaker.CircuitBreakerError as exc:
            cause = exc.__context__
            detail = f" (last failure: {cause})" if isinstance(cause, UpstreamError) else ""
            raise UpstreamUnavailable(
                f"circuit open after {self.breaker.fail_counter} failures in a row; "
                f"probing again within {self.breaker.reset_timeout:.0f} s{detail}"
            ) from None
