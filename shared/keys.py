"""Typed application state both services keep on their `web.Application`."""

from __future__ import annotations

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from redis.asyncio.cluster import RedisCluster

from shared.settings import Settings

settings_key = web.AppKey("settings", Settings)
db_pool_key = web.AppKey("db_pool", asyncpg.Pool)
# A plain client, or a cluster client when REDIS_URL names a cluster node (shared/redis_client.py).
redis_key: web.AppKey[aioredis.Redis | RedisCluster] = web.AppKey("redis")
