"""One open socket's state, and how frames reach it without anyone waiting on a slow reader.

Frames are written straight into the socket's transport, synchronously (the pub/sub reader
delivers a whole chunk of messages in one callback): a server frame is a 2-10 byte header and
the payload, so this module writes it itself rather than through aiohttp's coroutine. Flow
control is ours: once a socket has more than `slow_buffer_bytes` queued, it is not written to;
it keeps the newest location and the newest presence of its partner in two slots (a newer one
replaces the older), and `SlowClients` writes those once the buffer has drained. So a stalled
reader costs at most two small frames, never a backlog, and never holds up the sender or any
other socket.

The same latest-value slot carries the per-person location limit (CONTRACT section 4): a socket
is written at most one partner location every `partner_location_gap_s` (2 a second), and one
that comes sooner waits in the slot, replaced by any newer one, until it is due. The limit sits
with the receiving socket, the only one its user has in the walk (4009), so it holds however
many sockets, reconnects or instances the sender goes through: none of them has a budget of its
own to reset. This slot is where overload coalescing of the partner's locations belongs too.
"""

from __future__ import annotations

import asyncio
import struct
import time
import uuid
from typing import NamedTuple

from aiohttp import WSMsgType

from services.realtime.direct_ws import DirectWebSocketResponse
from services.realtime.ledger import LocationLedger
from services.realtime.limits import GatewayLimits
from services.realtime.metrics import counters
from shared.walk_events import walk_channel

_HEADER_SHORT = struct.Struct("!BB").pack
_HEADER_16 = struct.Struct("!BBH").pack
_HEADER_64 = struct.Struct("!BBQ").pack


def frame_header(opcode: int, length: int) -> bytes:
    """RFC 6455 section 5.2, for a final, unmasked (server to client), uncompressed frame."""
    if length < 126:
        return _HEADER_SHORT(0x80 | opcode, length)
    if length < 65536:
        return _HEADER_16(0x80 | opcode, 126, length)
    return _HEADER_64(0x80 | opcode, 127, length)


# Connection.ledger_state, in order.
NOT_LEDGERED, LEDGERING, FIRST_COUNTED, LEDGERED = 0, 1, 2, 3


class Refusal(NamedTuple):
    """Why a socket is closed by its own handler: the close code and reason it is sent."""

    code: int
    reason: bytes


class Connection:
    # `__slots__`: tens of thousands of these live at once, and nothing here points back at
    # anything that points to the connection, so refcounting frees it when the handler returns.
    __slots__ = (
        "channel",
        "closing",
        "connection_id",
        "greeted",
        "invalid_in_a_row",
        "invitation_id",
        "ledger",
        "ledger_state",
        "limits",
        "location_due",
        "partner_id",
        "pending_location",
        "pending_presence",
        "quiet",
        "refilled_at",
        "refusal",
        "replaced_by",
        "seq",
        "session_id",
        "slow",
        "tokens",
        "transport",
        "user_id",
        "ws",
    )

    def __init__(
        self,
        ws: DirectWebSocketResponse,
        transport: asyncio.Transport,
        *,
        invitation_id: str,
        user_id: str,
        session_id: uuid.UUID,
        connection_id: str,
        partner_id: str,
        limits: GatewayLimits,
        ledger: LocationLedger,
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.invitation_id = invitation_id
        self.channel = walk_channel(invitation_id).encode()
        self.user_id = user_id
        self.session_id = session_id  # of the token it opened with: its end closes this 4001
        self.connection_id = connection_id
        # The join's sequence number (presence.py), 0 until the join script answers; a `replaced`
        # event for a higher one that comes before that answer is kept in `replaced_by`.
        self.seq = 0
        self.replaced_by = 0
        self.partner_id = partner_id
        self.limits = limits
        self.ledger = ledger
        # The partner's first location waits for its ledger entry (ledger.py): NOT_LEDGERED,
        # LEDGERING (the write is out), FIRST_COUNTED (durable, and counted: the next write of
        # a location is not) or LEDGERED. `slow` is where the held location goes meanwhile.
        self.ledger_state = NOT_LEDGERED
        self.slow: SlowClients | None = None
        self.tokens = limits.burst
        self.refilled_at = time.monotonic()
        self.invalid_in_a_row = 0
        # Heartbeat sweeps since the client's last frame (heartbeat.py); the reader zeroes it.
        self.quiet = 0
        self.refusal: Refusal | None = None
        self.pending_location: bytes | None = None
        self.pending_presence: bytes | None = None
        # `time.monotonic()` from which the next partner location may be written.
        self.location_due = 0.0
        self.closing = False
        # Until the hello is written, partner frames wait in the slots: hello comes first.
        self.greeted = False

    @property
    def open(self) -> bool:
        """Still taking frames: not closed, and no close frame sent (nothing may follow one)."""
        return not self.closing and not self.ws.closed and not self.transport.is_closing()

    def take_token(self) -> bool:
        """Token bucket: False once the client has kept sending faster than the refill rate."""
        now = time.monotonic()
        limits = self.limits
        self.tokens = min(
            limits.burst, self.tokens + (now - self.refilled_at) * limits.refill_per_s
        )
        self.refilled_at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True

    def count_invalid(self) -> bool:
        """False once the client has sent `invalid_in_a_row` bad messages in a row."""
        self.invalid_in_a_row += 1
        return self.invalid_in_a_row < self.limits.invalid_in_a_row

    @property
    def backed_up(self) -> bool:
        return (
            not self.greeted
            or self.transport.get_write_buffer_size() > self.limits.slow_buffer_bytes
        )

    def send(self, frame: bytes) -> None:
        """Write one text frame now; a socket already gone is the handler's to notice, not ours."""
        if not self.closing:
            self.write_frame(frame, WSMsgType.TEXT)

    def send_close(self, code: int, reason: bytes) -> None:
        """The socket's one Close frame, unless one went out already (direct_ws.py): nothing,
        from us or aiohttp, follows it. The handler, the socket's reader, reads the reply."""
        if self.ws.claim_close() and not self.transport.is_closing():
            payload = struct.pack("!H", code) + reason
            self.transport.write(frame_header(WSMsgType.CLOSE, len(payload)) + payload)

    def write_frame(self, payload: bytes, opcode: WSMsgType) -> None:
        """Nothing once aiohttp has sent its own close frame (`ws.closed`): none may follow it."""
        transport = self.transport
        if self.ws.closed or transport.is_closing():
            return
        transport.write(frame_header(opcode, len(payload)) + payload)

    def offer(self, frame: bytes, *, is_location: bool, slow: SlowClients) -> None:
        """Deliver a partner's frame, or keep it as the newest one while the socket is behind
        or, for a location, until the next one is due."""
        if not self.open:
            return
        if is_location and self.ledger_state < FIRST_COUNTED:
            self._hold_first_location(frame, slow)
            return
        waiting = self.pending_location is not None or self.pending_presence is not None
        if not waiting:
            if not self.backed_up:
                if not is_location:
                    self.send(frame)
                    return
                now = time.monotonic()
                if now >= self.location_due:
                    self._send_location(frame, now)
                    return
            else:
                counters.slow_episodes += 1  # it just fell behind
        if is_location:
            counters.superseded += self.pending_location is not None
            self.pending_location = frame
        else:
            self.pending_presence = frame
        if not waiting:
            slow.add(self)

    def _hold_first_location(self, frame: bytes, slow: SlowClients) -> None:
        """The partner's first location waits in its slot until its ledger entry is durable."""
        counters.superseded += self.pending_location is not None
        self.pending_location = frame
        if self.ledger_state == NOT_LEDGERED:
            self.ledger_state = LEDGERING
            self.slow = slow
            self.ledger.first(self)

    def ledgered(self, durable: bool) -> None:
        """The ledger wrote the first relay's entry (counted), or could not (then the relay is
        counted as every other is): the held location may go."""
        self.ledger_state = FIRST_COUNTED if durable else LEDGERED
        slow, self.slow = self.slow, None
        # At once if it may go now: the first location waits one write, not a retry tick too.
        if slow is not None and self.pending_location is not None and not self.flush():
            slow.add(self)

    def flush(self) -> bool:
        """Write what the slots hold if the socket caught up; True when nothing is left."""
        if not self.open:
            self.pending_location = self.pending_presence = None
            return True
        if self.backed_up:
            return False
        # Location first: a presence that arrived after it (the partner left) must end the story.
        location = self.pending_location
        if location is not None and self.ledger_state >= FIRST_COUNTED:
            now = time.monotonic()
            if now < self.location_due:
                return False
            self._send_location(location, now)
            self.pending_location = None
        if self.pending_presence is not None:
            self.send(self.pending_presence)
            self.pending_presence = None
        return True

    def _send_location(self, frame: bytes, now: float) -> None:
        """Write a partner location, and count it in the location-access ledger."""
        self.location_due = now + self.limits.partner_location_gap_s
        self.send(frame)
        if self.ledger_state == LEDGERED:
            self.ledger.count(self.connection_id, self.invitation_id, self.user_id, self.partner_id)
        else:  # the first, counted by the entry written before it
            self.ledger_state = LEDGERED
        counters.delivered += 1


class SlowClients:
    """The one task per process that writes what the sockets' slots hold once they may take it
    (none needs a task or a timer of its own).

    Two kinds of waiting: a socket behind on its reads is tried again every `retry_s`; a
    location that came before its partner's next one is due (the per-person limit) waits in a
    bucket of its due time, so the task visits it once, when due, instead of every `retry_s`
    (at 2 locations a second a walker, half the sockets of a process wait like this).
    """

    def __init__(self, retry_s: float) -> None:
        self._retry_s = retry_s
        self._behind: set[Connection] = set()
        self._due: dict[int, set[Connection]] = {}
        self._wakeup = asyncio.Event()

    def add(self, connection: Connection) -> None:
        if connection.backed_up:
            self._behind.add(connection)
        else:
            self._due.setdefault(self._tick(connection.location_due), set()).add(connection)
        self._wakeup.set()

    def discard(self, connection: Connection) -> None:
        self._behind.discard(connection)
        bucket = self._due.get(self._tick(connection.location_due))
        if bucket is not None:
            bucket.discard(connection)

    def _tick(self, at: float) -> int:
        """The first tick at or after `at`."""
        return -int(-at // self._retry_s)

    async def run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._behind or self._due:
                await asyncio.sleep(self._retry_s)
                self.flush_due(time.monotonic())

    def flush_due(self, now: float) -> None:
        """Write every waiting socket that may take its frames by `now`."""
        behind, self._behind = self._behind, set()
        last_tick = int(now // self._retry_s)  # every due time in it is <= now
        for tick in [t for t in self._due if t <= last_tick]:
            behind |= self._due.pop(tick)
        for connection in behind:
            if not connection.flush():
                self.add(connection)
