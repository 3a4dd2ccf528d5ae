"""One redis.asyncio client per process, as a cleanup context.

`aioredis` is not used: it is archived and fails to import on Python 3.11; redis-py's
`redis.asyncio` is its maintained successor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from aiohttp import web

from shared.keys import redis_key, settings_key


def create_redis(url: str) -> aioredis.Redis:
    # Short timeouts: Redis is an accelerator here, a dead one must not hang a request.
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
        max_connections=64,
    )


@asynccontextmanager
async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    client = create_redis(app[settings_key].redis_url)
    app[redis_key] = client
    try:
        yield
    finally:
        await client.aclose()
