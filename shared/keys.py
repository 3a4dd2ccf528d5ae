"""Typed application state both services keep on their `web.Application`."""

from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from shared.settings import Settings

settings_key = web.AppKey("settings", Settings)
db_pool_key = web.AppKey("db_pool", asyncpg.Pool)
redis_key = web.AppKey("redis", aioredis.Redis)
