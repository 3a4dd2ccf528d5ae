"""Garbage-collector policy for a process holding tens of thousands of long-lived sockets.

A full (generation 2) pass walks every tracked object: 0.4-0.6 s at 10,000 sockets, with every
socket stalled meanwhile. A closed connection leaves no reference cycle here (tests/realtime/
test_memory.py), so refcounting frees it and full passes have nothing to find on the hot path.
So: start-up objects are frozen out of every pass; the young generations are collected as usual
(cheap, and they catch short-lived cycles); automatic full passes are off; and a full pass runs
only when it is cheap, i.e. when this process holds few sockets, to sweep up any stray cycle.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

log = logging.getLogger(__name__)

NO_AUTOMATIC_FULL_PASS = 1_000_000_000
FULL_PASS_MAX_SOCKETS = 1000
FULL_PASS_EVERY_S = 300.0


async def collect_when_cheap(count_sockets: Callable[[], int], check_every_s: float) -> None:
    last_full_pass = time.monotonic()
    while True:
        await asyncio.sleep(check_every_s)
        if time.monotonic() - last_full_pass < FULL_PASS_EVERY_S:
            continue
        if count_sockets() > FULL_PASS_MAX_SOCKETS:
            continue
        started = time.perf_counter()
        found = gc.collect()
        last_full_pass = time.monotonic()
        log.info(
            "full gc pass: %d unreachable, %.1f ms", found, (time.perf_counter() - started) * 1000
        )


@asynccontextmanager
async def gc_policy(count_sockets: Callable[[], int], check_every_s: float) -> AsyncIterator[None]:
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], NO_AUTOMATIC_FULL_PASS)
    task = asyncio.create_task(collect_when_cheap(count_sockets, check_every_s), name="gc-policy")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        gc.set_threshold(*thresholds)
        gc.unfreeze()
