"""Every Redis command the sockets of this process issue goes out pipelined, one round trip each.

Thousands of sockets publishing, joining and leaving at once would otherwise each borrow a
pooled connection (the pool refuses past its size) and pay a round trip apiece. Here commands
queue up while the previous batch is in flight and go out together in the next one, written
in one piece on the process's own RESP connection (shared/resp.py's SharedConnection, which
reconnects on demand and drops a connection whose reply is late). On a Redis Cluster a batch is
split by the shard that owns each command's key and the parts go out at once, one connection
per primary (shared/cluster.py's ClusterConnection).

Locations do not queue here: each walker's newest waits in the outbox (outbox.py), which every
batch empties first, so a batch holds at most one location a walker however long the previous
one took, and a walker's location goes out before any later command of its socket (its leave).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.exceptions import RedisError

from services.realtime.connection import Connection
from services.realtime.outbox import Outbox
from shared.cluster import Topology, pipelined_connection
from shared.resp import Command

log = logging.getLogger(__name__)

# A batch with no answer by then fails, and its connection is dropped.
REPLY_TIMEOUT_S = 5.0
# Commands other than the outbox's in one batch at most (a storm of joins is 10,000 scripts).
MAX_BATCH = 5000


class RedisBatch:
    def __init__(self, topology: Topology, outbox: Outbox, max_batch: int = MAX_BATCH) -> None:
        self._max_batch = max_batch
        self.outbox = outbox
        self._pending: list[tuple[Command, asyncio.Future[Any] | None]] = []
        self._wakeup = asyncio.Event()
        self._stopping = False
        self.connection_name = f"gateway-batch-{uuid.uuid4().hex[:12]}"
        self._connection = pipelined_connection(topology, self.connection_name, REPLY_TIMEOUT_S)

    def publish_location(self, sender: Connection, location: bytes | str) -> None:
        """Publish the sender's location in the next batch, unless a newer one replaces it
        first. While the outbox holds its slots, the writer wakes when they may go (and is told
        of the first one, in case it was waiting for commands only)."""
        first = not self.outbox
        self.outbox.put(sender, location)
        if first or not self.outbox.hold_s:
            self._wakeup.set()

    def fire(self, *command: Any) -> None:
        """Queue a command whose answer nobody waits for (a failure is logged)."""
        self._pending.append((command, None))
        self._wakeup.set()

    async def call(self, *command: Any) -> Any:
        """Queue a command and wait for its answer; Redis errors are raised here."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((command, future))
        self._wakeup.set()
        return await future

    async def run(self) -> None:
        """Until `stop()`: send what is queued; whatever is queued at the stop is still sent."""
        try:
            while not self._stopping:
                await self._wait_for_work()
                await self.flush()
            self.outbox.stop_holding()
            await self.flush()
        finally:
            self._connection.close()

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def _wait_for_work(self) -> None:
        """Until a command is queued, or the outbox's locations may go."""
        while not self._pending and not self._stopping:
            held_s = self.outbox.release_in(time.monotonic()) if self.outbox else None
            if held_s == 0.0:
                return
            try:
                async with asyncio.timeout(held_s):
                    await self._wakeup.wait()
            except TimeoutError:
                return
            finally:
                self._wakeup.clear()

    async def flush(self) -> None:
        while self._pending or (self.outbox and not self.outbox.release_in(time.monotonic())):
            locations: list[tuple[Command, asyncio.Future[Any] | None]] = [
                (command, None) for command in self.outbox.take()
            ]
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            await self._execute(locations + batch)

    async def _execute(self, batch: list[tuple[Command, asyncio.Future[Any] | None]]) -> None:
        try:
            results = await self._connection.execute([command for command, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                if future is not None:
                    future.cancel()
            raise
        except RedisError as exc:
            log.warning("redis batch of %d commands failed: %s", len(batch), type(exc).__name__)
            for _, future in batch:
                if future is not None and not future.done():
                    future.set_exception(exc)
            return
        unanswered: list[tuple[Command, Exception]] = []
        for (command, future), result in zip(batch, results, strict=True):
            failed = isinstance(result, Exception)
            if future is None:
                if failed:
                    unanswered.append((command, result))
            elif not future.done():
                if failed:
                    future.set_exception(result)
                else:
                    future.set_result(result)
        if unanswered:
            # One line, not one per command: a shard down fails a share of every batch.
            (command, error), more = unanswered[0], len(unanswered) - 1
            log.warning("redis %s failed: %s (and %d more commands)", command[0], error, more)


@asynccontextmanager
async def running_batch(topology: Topology, outbox: Outbox) -> AsyncIterator[RedisBatch]:
    """The batch and its writer task; on exit, what is still queued is sent before stopping.

    Stopped by a flag rather than cancelled, so a batch in flight is never cut in half.
    """
    batch = RedisBatch(topology, outbox)
    task = asyncio.create_task(batch.run(), name="redis-batch")
    try:
        yield batch
    finally:
        batch.stop()
        await task
