"""What a gateway does with each walk event that reaches it, for its own sockets.

`location` and `presence` go to the partner's socket (never back to the sender's), `replaced`
closes a user's older socket with 4009, and `walk_ended` tells both walkers and closes them
with 4004. Closing waits for the client, so it runs in a task of its own and the listener
moves on at once.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from services.realtime.broker import Broker
from services.realtime.connection import Connection, SlowClients
from services.realtime.protocol import walk_ended_frame
from shared.jsonutil import loads
from shared.walk_events import LOCATION, PRESENCE, REPLACED, WALK_ENDED

log = logging.getLogger(__name__)

CLOSE_REASONS = {
    1001: b"gateway shutting down",
    4004: b"walk ended",
    4009: b"replaced by a newer connection",
}


class Rooms:
    def __init__(self, broker: Broker[Connection], slow: SlowClients, close_timeout_s: float):
        self.broker = broker
        self._slow = slow
        self._close_timeout_s = close_timeout_s
        self._closing: set[asyncio.Task[None]] = set()

    async def deliver(self, channel: bytes, members: set[Connection], data: bytes) -> None:
        event = loads(data)
        kind = event.get("type")
        if kind in (LOCATION, PRESENCE):
            sender = event["user_id"]
            is_location = kind == LOCATION
            for connection in tuple(members):
                if connection.user_id != sender:
                    await connection.offer(data, is_location=is_location, slow=self._slow)
        elif kind == REPLACED:
            for connection in tuple(members):
                if (
                    connection.user_id == event["user_id"]
                    and connection.connection_id != event["connection_id"]
                ):
                    self.close(connection, 4009)
        elif kind == WALK_ENDED:
            self.end_walk(members, str(event.get("status", "finished")))

    def end_walk(self, members: set[Connection], status: str) -> None:
        frame = walk_ended_frame(status)
        for connection in tuple(members):
            self.close(connection, 4004, frame)

    def close(self, connection: Connection, code: int, last_frame: bytes | None = None) -> None:
        if connection.closing:
            return
        connection.closing = True
        task = asyncio.create_task(self._close(connection, code, last_frame))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, connection: Connection, code: int, last_frame: bytes | None) -> None:
        self._slow.discard(connection)
        connection.pending_location = connection.pending_presence = None
        if last_frame is not None:
            await connection.send(last_frame)
        with suppress(ConnectionError, RuntimeError):
            # drain=False: a reader that stopped reading must not hold this task; its
            # transport is aborted below if it never takes the close frame.
            await connection.ws.close(code=code, message=CLOSE_REASONS[code], drain=False)
        if connection.transport.get_write_buffer_size():
            await asyncio.sleep(self._close_timeout_s)
            connection.transport.abort()

    def forget(self, connection: Connection) -> None:
        """The socket is gone: stop retrying its slots."""
        self._slow.discard(connection)

    async def close_all(self, code: int) -> None:
        for connection in self.broker.all_members():
            self.close(connection, code)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
