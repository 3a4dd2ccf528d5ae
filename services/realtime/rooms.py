"""What a gateway does with each walk event that reaches it, for its own sockets.

`location` and `presence` go to the partner's socket (never back to the sender's), `replaced`
closes a user's older socket with 4009, and `walk_ended` tells both walkers and closes them
with 4004. A session that ended (shared/ended_sessions.py) closes its sockets with 4001; a
user who paused location sharing (shared/location_pauses.py), or withdrew location consent
(`location_stopped` on the walk's channel), has theirs closed with 4005, and no location of a
paused user is relayed.
Nothing here waits for a client: one reaper task finishes every close handshake.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Container
from contextlib import suppress

from aiohttp import WSMsgType

from services.realtime.broker import Broker
from services.realtime.connection import Connection, SlowClients
from services.realtime.protocol import walk_ended_frame
from shared.jsonutil import loads
from shared.walk_events import LOCATION, LOCATION_STOPPED, PRESENCE, REPLACED, WALK_ENDED

log = logging.getLogger(__name__)

REAP_EVERY_S = 0.05
# A draining gateway closes a share of its sockets this often (`Rooms.drain`).
DRAIN_TURN_S = 0.1
CLOSE_REASONS = {
    1001: b"gateway shutting down",
    4001: b"session ended",
    4004: b"walk ended",
    4005: b"location sharing paused or withdrawn",
    4009: b"replaced by a newer connection",
}


# `location_frame` and `presence_event` write these keys first, so the listener reads the sender
# of the partner's frames (nearly every message) from the bytes instead of parsing the JSON.
def _relayed_prefix(kind: str) -> bytes:
    return b'{"type":"' + kind.encode() + b'","user_id":"'


RELAYED_PREFIXES = {_relayed_prefix(LOCATION): True, _relayed_prefix(PRESENCE): False}
PREFIX_LENGTH = len(_relayed_prefix(LOCATION))
assert all(len(prefix) == PREFIX_LENGTH for prefix in RELAYED_PREFIXES)


def relayed_sender(data: bytes) -> tuple[str, bool] | None:
    """(sender's user id, is a location) of a frame relayed as it is; None for other events."""
    is_location = RELAYED_PREFIXES.get(data[:PREFIX_LENGTH])
    if is_location is None:
        return None
    end = data.find(b'"', PREFIX_LENGTH)
    return data[PREFIX_LENGTH:end].decode(), is_location


class Rooms:
    def __init__(
        self,
        broker: Broker[Connection],
        slow: SlowClients,
        close_timeout_s: float,
        forget_location: Callable[[Connection], None] | None = None,
    ):
        self.broker = broker
        self._slow = slow
        # Deletes a walker's last raw location when their walk ends (app.py: through the batch,
        # so after any location of theirs still on its way to Redis).
        self._forget_location = forget_location
        self._close_timeout_s = close_timeout_s
        self._closing: dict[Connection, tuple[int, float]] = {}
        self._reaper_wakeup = asyncio.Event()
        self._all_closed = asyncio.Event()
        # Users (ids as text) with location sharing paused now: shared/location_pauses.py.
        self.paused: Container[str] = frozenset()

    def deliver(self, channel: bytes, members: set[Connection], data: bytes) -> None:
        relayed = relayed_sender(data)
        if relayed is not None:
            sender, is_location = relayed
            if is_location and sender in self.paused:
                return  # sent before its gateway heard of the pause: never relayed
            for connection in tuple(members):
                if connection.user_id != sender:
                    connection.offer(data, is_location=is_location, slow=self._slow)
            return
        event = loads(data)
        kind = event.get("type")
        if kind == REPLACED:
            self.replace(members, event["user_id"], event["seq"])
        elif kind == WALK_ENDED:
            signed_out = event.get("signed_out_user_id")
            self.end_walk(members, str(event.get("status", "finished")), signed_out)
        elif kind == LOCATION_STOPPED:
            self.stop_users([str(event["user_id"])], members)

    def replace(self, members: set[Connection], user_id: str, seq: int) -> None:
        """Close the user's sockets that joined before socket number `seq` (4009).

        Of simultaneous joins only the last admitted survives, on whichever instances they are:
        a socket whose own number is not known yet remembers the highest replacing one, and its
        handler closes it when the number comes (walk_together.py).
        """
        for connection in tuple(members):
            if connection.user_id != user_id:
                continue
            if connection.seq == 0:
                connection.replaced_by = max(connection.replaced_by, seq)
            elif connection.seq < seq:
                self.close(connection, 4009)

    def end_walk(
        self, members: set[Connection], status: str, signed_out: str | None = None
    ) -> None:
        """`walk_ended`, then 4004, to the walkers; 4001 to `signed_out`, whose sessions ended
        with the walk (suspended, or deleted), as if that announcement had come first."""
        frame = walk_ended_frame(status)
        for connection in tuple(members):
            if connection.user_id == signed_out:
                self.close(connection, 4001)
            else:
                self.close(connection, 4004, frame)
            if self._forget_location is not None:
                self._forget_location(connection)

    def end_sessions(self, session_ids: list[uuid.UUID]) -> None:
        """Close the sockets opened with these sessions' tokens. Sessions end seldom (a
        sign-out), so a pass over the process's sockets costs less than an index on each."""
        ended = set(session_ids)
        for connection in self.broker.all_members():
            if connection.session_id in ended:
                self.close(connection, 4001)

    def stop_users(self, user_ids: list[str], members: set[Connection] | None = None) -> None:
        """Close these users' sockets with 4005 (among `members`, else all of the process's),
        and drop their locations still waiting for a partner's socket."""
        stopped = set(user_ids)
        for connection in tuple(members) if members is not None else self.broker.all_members():
            if connection.user_id in stopped:
                self.close(connection, 4005)
            elif connection.partner_id in stopped:
                connection.pending_location = None

    def close(self, connection: Connection, code: int, last_frame: bytes | None = None) -> None:
        """Start the close handshake; the reaper finishes it.

        The socket's one Close frame goes out now (connection.py: neither we nor aiohttp send
        another) and the socket's own handler reads the client's reply and closes the
        connection, so clients see a clean close with our code (closing the TCP connection at
        once makes some clients report 1006 instead, and so does a second Close frame). A
        client that never replies is cut off after `close_timeout_s`, without another frame.
        """
        if connection.closing:
            return
        connection.closing = True
        self._slow.discard(connection)
        connection.pending_location = connection.pending_presence = None
        if last_frame is not None:
            connection.write_frame(last_frame, WSMsgType.TEXT)
        connection.send_close(code, CLOSE_REASONS[code])
        self._closing[connection] = (code, time.monotonic() + self._close_timeout_s)
        self._reaper_wakeup.set()

    async def reap(self) -> None:
        """The one task that finishes close handshakes for every socket of the process."""
        while True:
            if not self._closing:
                self._all_closed.set()
                await self._reaper_wakeup.wait()
                self._reaper_wakeup.clear()
                continue
            self._all_closed.clear()
            await asyncio.sleep(REAP_EVERY_S)
            now = time.monotonic()
            for connection, (_, deadline) in list(self._closing.items()):
                if connection.transport.is_closing():
                    del self._closing[connection]
                elif now >= deadline:
                    del self._closing[connection]
                    self._cut_off(connection)

    def _cut_off(self, connection: Connection) -> None:
        """The client never answered our Close: end the connection (its handler, reading for
        the reply, sees it end); what is still queued for a reader that stalled is dropped."""
        transport = connection.transport
        if transport.get_write_buffer_size():
            transport.abort()
        else:
            transport.close()

    def forget(self, connection: Connection) -> None:
        """The socket's handler is done with it: hold no reference to it any longer."""
        self._slow.discard(connection)
        self._closing.pop(connection, None)

    async def drain(self, code: int, over_s: float) -> None:
        """Close every socket of this process in turns spread over `over_s`, serving the rest
        meanwhile; returns once all are closed (or cut off).

        A stopped gateway's walkers all reconnecting in the same second stormed the survivors
        (issue 23): closed a slice a turn, and told to come back within a location interval
        (docs/realtime-protocol.md), they arrive spread over the window. A turn closes its share
        of the sockets still open (fractions carried over, so a few sockets spread over the
        whole window too), and the broker's order keeps a walk's two sockets near each other.
        """
        loop = asyncio.get_running_loop()
        turns = max(1, round(over_s / DRAIN_TURN_S))
        started = loop.time()
        due = 0.0
        for turn in range(turns):
            open_sockets = [c for c in self.broker.all_members() if not c.closing]
            if not open_sockets:
                break
            due += len(open_sockets) / (turns - turn)  # the last turn: all that are left
            share = int(due)
            due -= share
            for connection in open_sockets[:share]:
                self.close(connection, code)
            if turn + 1 < turns:
                await asyncio.sleep(max(0.0, started + (turn + 1) * DRAIN_TURN_S - loop.time()))
        await self.close_all(code)

    async def close_all(self, code: int) -> None:
        """Close every socket of this process; returns once all are closed (or cut off)."""
        for connection in self.broker.all_members():
            self.close(connection, code)
        if self._closing:
            self._all_closed.clear()
            self._reaper_wakeup.set()
            with suppress(TimeoutError):
                async with asyncio.timeout(self._close_timeout_s + 1):
                    await self._all_closed.wait()
