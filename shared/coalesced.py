"""Lookups that wait together, answered by one query: `CoalescedLookup`.

At most one query is in flight; keys asked for while it runs go in the next one, so a burst of
lookups makes a handful of `= ANY($1)` queries instead of one each queued behind a small pool.
Nothing is cached: every key is answered by a query that began after it was asked for, so the
answer is as fresh as a query of its own would be.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from contextlib import suppress
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class CoalescedLookup(Generic[K, V]):
    def __init__(self, fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]], name: str) -> None:
        """`fetch` answers a batch of keys; a key it leaves out is answered None."""
        self._fetch = fetch
        self._name = name
        self._waiting: dict[K, list[asyncio.Future[V | None]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def get(self, key: K) -> V | None:
        """The value as the next query finds it; raises what that query raised."""
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)
        return await future

    async def _run(self) -> None:
        batch: dict[K, list[asyncio.Future[V | None]]] = {}
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                try:
                    found = await self._fetch(list(batch))
                except Exception as exc:  # every waiter decides what it means
                    _settle(batch, exc)
                else:
                    _settle(batch, found)
        finally:
            self._task = None
            # Cancelled (shutdown): no waiter is left hanging.
            for futures in (*batch.values(), *self._waiting.values()):
                for future in futures:
                    future.cancel()
            self._waiting = {}

    async def close(self) -> None:
        """Stop the query in flight (on shutdown); its waiters are cancelled with it."""
        task = self._task
        if task is None:
            return
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


def _settle(
    batch: dict[K, list[asyncio.Future[V | None]]], outcome: Mapping[K, V] | Exception
) -> None:
    for key, futures in batch.items():
        for future in futures:
            if future.done():  # its caller was cancelled meanwhile
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome.get(key))
