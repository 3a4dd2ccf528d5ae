"""How long a job waits before its next attempt."""

from __future__ import annotations

import random


def retry_delay(attempt: int, retry_after_s: float | None, *, base_s: float, cap_s: float) -> float:
    """Exponential in the attempt number with "equal jitter" (half fixed, half random, so
    retries of a burst spread out yet still grow), and never sooner than the server asked."""
    ceiling = min(cap_s, base_s * 2.0 ** max(0, attempt - 1))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    return max(delay, retry_after_s or 0.0)
