"""The handshake's invitation lookups, coalesced: one `= ANY($1)` query for those waiting together.

A reconnect storm brings thousands of handshakes at once; one query each would queue them behind
the pool's few connections. Here at most one query is in flight: a lookup asked for while it runs
goes in the next one. Nothing is cached: every lookup is answered by a query that began after it
was asked for, so an invitation that ended before a handshake is seen as ended (4002), exactly as
with a query of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress

import asyncpg

from shared.invitations import Invitation, get_invitations


class InvitationLoader:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._waiting: dict[uuid.UUID, list[asyncio.Future[Invitation | None]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def get(self, invitation_id: uuid.UUID) -> Invitation | None:
        """The invitation as the next query finds it; raises what that query raised."""
        future: asyncio.Future[Invitation | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(invitation_id, []).append(future)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="invitation-loader")
        return await future

    async def _run(self) -> None:
        batch: dict[uuid.UUID, list[asyncio.Future[Invitation | None]]] = {}
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, {}
                try:
                    found = await get_invitations(self._pool, batch.keys())
                except Exception as exc:  # every waiter's handler decides what it means
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
    batch: dict[uuid.UUID, list[asyncio.Future[Invitation | None]]],
    outcome: dict[uuid.UUID, Invitation] | Exception,
) -> None:
    for invitation_id, futures in batch.items():
        for future in futures:
            if future.done():  # its handler was cancelled meanwhile
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome.get(invitation_id))
