"""Storms spread over loop iterations, so that live sockets are served between them.

Handshakes and closes come in storms: when a gateway stops, its walkers all come back to the
others within a second; when thousands of clients close at once (a cell tower drops, an app
update), their close frames arrive in a few reads of the loop and every handler would finish
its close in the next iteration: the close reply, the transport's teardown, the leave,
aiohttp's end of the request, ~160 µs each, so a storm of 10,000 held every other socket for
over a second (bench/RESULTS.md). Instead a handler about to do such work (a handshake's
checks, seat and hello; the end of a socket) waits here for a turn: at most `per_turn`
handlers go on per iteration, and the loop polls its sockets between turns. A lone handshake
or close waits one iteration.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Turns:
    """One queue of handlers, a bounded number let on per loop iteration."""

    def __init__(self, per_turn: int) -> None:
        self._per_turn = per_turn
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._scheduled = False

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def turn(self) -> None:
        """Returns in the first loop iteration with a free place, in order of arrival."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiting.append(waiter)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._admit, loop)
        await waiter

    def _admit(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wake the next `per_turn`; their handlers run in the next iteration, after a poll."""
        admitted = 0
        waiting = self._waiting
        while waiting and admitted < self._per_turn:
            waiter = waiting.popleft()
            if not waiter.done():  # a handler cancelled meanwhile (shutdown) takes no place
                waiter.set_result(None)
                admitted += 1
        if waiting:
            loop.call_soon(self._admit, loop)
        else:
            self._scheduled = False
