"""What the runner and every scenario share: the sizes of a run, and the helpers that turn
runs into medians and verdicts. The scenarios import these from here, and the runner imports
the scenarios, so nothing imports the runner.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench import results
from bench.seed import SeedSize

log = logging.getLogger("bench")


@dataclass(frozen=True)
class Sizes:
    steady_sockets: int = 20_000
    pace_s: float = 30
    throughput_s: float = 10
    memory_sockets: int = 19_000
    churn_sockets: int = 10_000
    storm_walkers: int = 10_000  # per instance, in the reconnect storm
    load_processes: int = 4
    http_seconds: float = 10
    pushes: int = 5_000
    export_walks: int = 1_000  # of 2,000 points each
    seed: SeedSize = field(default_factory=SeedSize)


QUICK = Sizes(
    steady_sockets=2_000,
    pace_s=8,
    throughput_s=5,
    memory_sockets=2_000,
    churn_sockets=1_000,
    storm_walkers=1_000,
    load_processes=2,
    http_seconds=3,
    pushes=500,
    export_walks=100,
    seed=SeedSize(users=3_000, walks=30_000, follows_per_user=50, invitations=1_500),
)


def verdict(checks: dict[str, bool | None]) -> str:
    return ", ".join(
        f"{name} {'met' if ok else 'NOT met' if ok is not None else 'not measured'}"
        for name, ok in checks.items()
    )


def within(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def at_least(value: float | None, floor: float) -> bool | None:
    return None if value is None else value >= floor


def under(value: float | None, limit: float) -> bool | None:
    return None if value is None else value < limit


def every(values: list[Any], ok: Callable[[Any], bool]) -> bool | None:
    """`ok` of every value; None (not measured) if any is missing."""
    if not values or any(v is None for v in values):
        return None
    return all(ok(v) for v in values)


async def repeat(n: int, measure: Callable[[], Awaitable[dict[str, Any]]]) -> list[dict[str, Any]]:
    runs = []
    for i in range(n):
        log.info("  run %d/%d", i + 1, n)
        runs.append(await measure())
    return runs


def median(runs: list[dict[str, Any]], *path: str) -> float | None:
    return results.median_of(runs, path)


def medians(runs: list[dict[str, Any]], prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """The median of every numeric figure across runs (same nesting as a run)."""
    out: dict[str, Any] = {}
    first = runs[0]
    for key, value in first.items():
        if isinstance(value, dict) and key not in {"close_codes", "status_counts"}:
            out[key] = medians([r.get(key, {}) for r in runs])
        elif isinstance(value, int | float) and not isinstance(value, bool):
            values = [r[key] for r in runs if isinstance(r.get(key), int | float)]
            out[key] = round(statistics.median(values), 3) if values else None
    return out
