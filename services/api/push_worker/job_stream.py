"""The Redis half of the job queue: the `push:jobs` stream read through a consumer group, and
`push:retry:{push:jobs}`, a sorted set of jobs waiting out their backoff (score: due time in ms).

The retry set's hash tag is the stream's own name, so on a Redis Cluster both keys share the
stream's slot and the promoting script stays on one shard (docs/push.md: why one slot).

Redis only carries ids; losing any of this (a restart without persistence) delays jobs until the
sweeper re-emits them from their rows, it never loses them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, cast

from redis.exceptions import ResponseError

from services.api.notifications.push_jobs import PUSH_STREAM, PUSH_STREAM_MAXLEN
from shared.redis_client import RedisClient

CONSUMER_GROUP = "push-workers"
RETRY_KEY = f"push:retry:{{{PUSH_STREAM}}}"

# Moves due retries into the stream atomically, so two workers never both re-emit one.
_PROMOTE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'notification_id', id)
    redis.call('ZREM', KEYS[1], id)
end
return #due
"""

# Stream entry id, its job (None: unreadable), and the id of the request that emitted it.
Entry = tuple[str, uuid.UUID | None, str | None]


def _job_id(fields: Mapping[Any, Any] | None) -> uuid.UUID | None:
    if not fields:
        return None
    raw = fields.get(b"notification_id") or fields.get("notification_id")
    try:
        return uuid.UUID(raw.decode() if isinstance(raw, bytes) else str(raw))
    except (ValueError, AttributeError):
        return None


def _request_id(fields: Mapping[Any, Any] | None) -> str | None:
    raw = (fields.get(b"request_id") or fields.get("request_id")) if fields else None
    return _text(raw) if raw else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(raw: Iterable[tuple[Any, Any]]) -> list[Entry]:
    return [
        (_text(entry_id), _job_id(fields), _request_id(fields))
        for entry_id, fields in raw
        if entry_id is not None
    ]


def is_missing_group(exc: ResponseError) -> bool:
    return str(exc).startswith("NOGROUP")


class JobStream:
    def __init__(self, redis: RedisClient, consumer: str) -> None:
        self._redis = redis
        self.consumer = consumer
        self._promote = redis.register_script(_PROMOTE_DUE)

    async def ensure_group(self) -> None:
        """Create the group (from the stream's start, so nothing emitted earlier is skipped)."""
        try:
            await self._redis.xgroup_create(PUSH_STREAM, CONSUMER_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read_new(self, count: int, block_ms: int) -> list[Entry]:
        reply = cast(
            "list[tuple[Any, list[tuple[Any, Any]]]] | None",
            await self._redis.xreadgroup(
                CONSUMER_GROUP, self.consumer, {PUSH_STREAM: ">"}, count=count, block=block_ms
            ),
        )
        if not reply:
            return []
        entries: list[Entry] = []
        for _stream, raw in reply:
            entries.extend(_entries(raw))
        return entries

    async def reclaim(self, min_idle_ms: int, start: str, count: int) -> tuple[str, list[Entry]]:
        """XAUTOCLAIM entries another (likely dead) consumer read but never acknowledged."""
        reply = await self._redis.xautoclaim(
            PUSH_STREAM, CONSUMER_GROUP, self.consumer, min_idle_ms, start_id=start, count=count
        )
        return _text(reply[0]), _entries(reply[1])

    async def forget_gone_consumers(self, idle_ms: int) -> int:
        """Drop consumers (workers that exited for good) idle this long with nothing pending;
        each worker run has its own name, so they would otherwise pile up in the group."""
        consumers = await self._redis.xinfo_consumers(PUSH_STREAM, CONSUMER_GROUP)
        gone = [
            c["name"]
            for c in consumers
            if c["pending"] == 0 and c["idle"] >= idle_ms and _text(c["name"]) != self.consumer
        ]
        for name in gone:
            await self._redis.xgroup_delconsumer(PUSH_STREAM, CONSUMER_GROUP, name)
        return len(gone)

    async def ack(self, entry_ids: list[str]) -> None:
        """Acknowledge and delete: a settled job's entry has nothing left to say."""
        if not entry_ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xack(PUSH_STREAM, CONSUMER_GROUP, *entry_ids)
            pipe.xdel(PUSH_STREAM, *entry_ids)
            await pipe.execute()

    async def schedule(self, due_in_s: Mapping[uuid.UUID, float]) -> None:
        if not due_in_s:
            return
        now_ms = time.time() * 1000
        await self._redis.zadd(
            RETRY_KEY, {str(job): now_ms + wait * 1000 for job, wait in due_in_s.items()}
        )

    async def promote_due(self, limit: int) -> int:
        moved = await self._promote(
            keys=[RETRY_KEY, PUSH_STREAM],
            args=[int(time.time() * 1000), limit, PUSH_STREAM_MAXLEN],
        )
        return int(moved)
