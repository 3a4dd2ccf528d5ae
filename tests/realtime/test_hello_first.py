"""Hello is the first frame a socket gets: a partner frame that arrives while the gateway is
still taking the seat waits in the latest-value slot until the hello is written."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from services.realtime.connection import Connection, SlowClients
from services.realtime.ledger import LocationLedger
from services.realtime.limits import GatewayLimits


class _RecordingSocket:
    """Stands in for the WebSocketResponse and its transport: records what would be written."""

    closed = False

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def write(self, data: bytes) -> None:
        assert data[0] == 0x81 and data[1] == len(data) - 2  # one short, final text frame
        self.frames.append(data[2:])

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class _Ledger:
    """Stands in for the location ledger: the first relay's entry is written when `write` is
    called (at once with `at_once`), later relays are counted."""

    def __init__(self, *, at_once: bool) -> None:
        self.at_once = at_once
        self.waiting: list[Any] = []
        self.counted = 0

    def first(self, relay: Any) -> None:
        if self.at_once:
            relay.ledgered(True)
        else:
            self.waiting.append(relay)

    def write(self) -> None:
        waiting, self.waiting = self.waiting, []
        for relay in waiting:
            relay.ledgered(True)

    def count(self, *args: Any) -> None:
        self.counted += 1


def _connection(sock: _RecordingSocket, ledger: _Ledger) -> Connection:
    ws: Any = sock
    real_ledger: LocationLedger = ledger  # type: ignore[assignment]
    return Connection(
        ws,
        sock,  # type: ignore[arg-type]
        invitation_id="i",
        user_id="u",
        session_id=uuid.uuid4(),
        connection_id="c",
        partner_id="p",
        limits=GatewayLimits(),
        ledger=real_ledger,
    )


async def test_the_first_location_waits_for_its_ledger_entry() -> None:
    sock = _RecordingSocket()
    ledger = _Ledger(at_once=False)
    connection = _connection(sock, ledger)
    connection.send(b'{"type":"hello"}')
    connection.greeted = True
    slow = SlowClients(retry_s=0.01)
    connection.offer(b'{"type":"location","n":1}', is_location=True, slow=slow)
    assert sock.frames == [b'{"type":"hello"}']  # not before its entry is durable
    ledger.write()
    assert sock.frames == [b'{"type":"hello"}', b'{"type":"location","n":1}']
    assert ledger.counted == 0  # the entry counted it


async def test_partner_frame_before_hello_waits_for_it() -> None:
    sock = _RecordingSocket()
    connection = _connection(sock, _Ledger(at_once=True))
    slow = SlowClients(retry_s=0.01)
    runner = asyncio.create_task(slow.run())
    try:
        connection.offer(b'{"type":"location","early":1}', is_location=True, slow=slow)
        connection.offer(b'{"type":"location","early":2}', is_location=True, slow=slow)
        await asyncio.sleep(0.05)
        assert sock.frames == []  # held, and only the newest kept

        connection.send(b'{"type":"hello"}')
        connection.greeted = True
        for _ in range(100):
            if len(sock.frames) == 2:
                break
            await asyncio.sleep(0.01)
        assert sock.frames == [b'{"type":"hello"}', b'{"type":"location","early":2}']
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
