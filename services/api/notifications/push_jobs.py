"""Push jobs: the API's half of the transactional outbox.

A notification row is written in the same transaction as the action that causes it; that row is
the job's source of truth (`push_state = 'pending'`). After the commit, its id is added to the
Redis stream `push:jobs` for the worker. The add runs in the background and its failure is only
logged: a push never blocks or fails a request, and the worker's sweeper re-emits every row still
pending after a grace period, so nothing is lost between the commit and Redis.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from aiohttp import web
from redis.typing import EncodableT, FieldT

from shared.logging_setup import request_id_var
from shared.redis_client import RedisClient

log = logging.getLogger(__name__)

PUSH_STREAM = "push:jobs"
# Trim, approximately, far above any real backlog: the rows stay the source of truth.
PUSH_STREAM_MAXLEN = 1_000_000
EMIT_TIMEOUT_S = 2.0


async def add_push_jobs(
    redis: RedisClient, notification_ids: Iterable[uuid.UUID], request_id: str | None = None
) -> None:
    """XADD one job per notification id (one round trip), with the id of the request that
    caused them, so the worker's lines about each push carry it too."""
    fields: dict[FieldT, EncodableT] = {"request_id": request_id} if request_id else {}
    async with redis.pipeline(transaction=False) as pipe:
        for notification_id in notification_ids:
            pipe.xadd(
                PUSH_STREAM,
                {"notification_id": str(notification_id), **fields},
                maxlen=PUSH_STREAM_MAXLEN,
                approximate=True,
            )
        await pipe.execute()


class PushJobEmitter:
    """Emits jobs after commit without making the request wait for Redis."""

    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._tasks: set[asyncio.Task[None]] = set()

    def emit(self, notification_ids: Iterable[uuid.UUID | None]) -> None:
        ids = [i for i in notification_ids if i is not None]
        if not ids:
            return
        # The task copies the request's context: its id goes into the jobs, its lines carry it.
        task = asyncio.create_task(self._emit(ids))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _emit(self, ids: list[uuid.UUID]) -> None:
        try:
            async with asyncio.timeout(EMIT_TIMEOUT_S):
                await add_push_jobs(self._redis, ids, request_id_var.get())
        except Exception as exc:
            # The sweeper will re-emit these from their rows.
            log.warning(
                "push jobs not emitted now (%s); the sweeper will retry", type(exc).__name__
            )

    async def drain(self) -> None:
        """Wait for in-flight emits (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


@asynccontextmanager
async def push_emitter(redis: RedisClient) -> AsyncIterator[PushJobEmitter]:
    emitter = PushJobEmitter(redis)
    try:
        yield emitter
    finally:
        await emitter.drain()


push_jobs_key = web.AppKey("push_jobs", PushJobEmitter)
