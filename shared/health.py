"""`GET /healthz`: 200 when Postgres and Redis both answer, else 503."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from shared.jsonutil import json_response
from shared.keys import db_pool_key, redis_key

log = logging.getLogger(__name__)
CHECK_TIMEOUT_S = 2.0


async def _postgres_ok(app: web.Application) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return bool(await app[db_pool_key].fetchval("SELECT 1") == 1)
    except Exception as exc:
        log.warning("health: postgres unavailable: %s", type(exc).__name__)
        return False


async def _redis_ok(app: web.Application) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return bool(await app[redis_key].ping())
    except Exception as exc:
        log.warning("health: redis unavailable: %s", type(exc).__name__)
        return False


async def healthz(request: web.Request) -> web.Response:
    postgres, redis = await asyncio.gather(_postgres_ok(request.app), _redis_ok(request.app))
    if postgres and redis:
        return json_response({"status": "ok"})
    body = {"status": "unavailable", "postgres": postgres, "redis": redis}
    return json_response(body, status=503)
