"""How many exports run at once in one process (`GET /me/export`, export_handlers.py)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from shared.settings import Settings

# Exports running at once in one process, each holding a pooled connection for as long as its
# client takes to read: a quarter of the pool, so slow readers never starve the other routes.
# Past it, a request waits for a slot before it reads anything.
export_slots_key = web.AppKey("export_slots", asyncio.Semaphore)


def export_slots(settings: Settings) -> asyncio.Semaphore:
    return asyncio.Semaphore(max(1, settings.db_pool_max_size // 4))
