"""Retention sweeps: one background task each, hourly, deleting in batches what has been kept
as long as the law or the setting asks (the location ledger, report evidence, consent records).

`retention_sweep_ctx(name, sweep)` is the cleanup context: the task starts once the database pool
is open (register it after that context) and is cancelled and awaited on exit. A sweep that
fails on the database is logged and tried again at the next round.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress

import asyncpg
from aiohttp import web

from shared.keys import db_pool_key

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 3600.0

# One round: delete what is due, with the app's settings at hand.
Sweep = Callable[[web.Application, asyncpg.Connection], Awaitable[None]]


async def sweep_until_stopped(app: web.Application, name: str, sweep: Sweep) -> None:
    while True:
        try:
            async with app[db_pool_key].acquire() as conn:
                await sweep(app, conn)
        except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
            log.warning("%s sweep failed: %s", name, type(exc).__name__)
        await asyncio.sleep(SWEEP_EVERY_S)


def retention_sweep_ctx(
    name: str, sweep: Sweep
) -> Callable[[web.Application], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def sweep_ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(sweep_until_stopped(app, name, sweep), name=f"{name}-sweep")
        yield
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task

    return sweep_ctx
