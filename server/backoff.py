"""Full-jitter exponential backoff: the one delay rule every retry loop here uses (pure)."""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["full_jitter"]


def full_jitter(attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number `attempt` (0-based): uniform in
    [0, min(cap, base * 2**attempt)) (AWS's "full jitter", which spreads a herd of retries best)."""
    return rand() * min(cap, base * 2 ** min(attempt, 30))
