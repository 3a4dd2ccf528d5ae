"""A strict WebSocket client that sees every frame the gateway writes (RFC 6455), for the tests
of the closing handshake: aiohttp's client hides a second Close frame, a browser does not.

It does the upgrade by hand over a plain TCP connection, parses each frame the server sends,
and answers a Close as a browser does (with a Close of its own, once). `frames` keeps every
frame read, so a test can count the Close frames the server sent before the connection ended.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from dataclasses import dataclass, field

from shared.jsonutil import dumps_bytes, loads

READ_TIMEOUT_S = 10.0
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


@dataclass
class Frame:
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        if self.opcode != CLOSE or len(self.payload) < 2:
            return None
        code: int = struct.unpack("!H", self.payload[:2])[0]
        return code


@dataclass
class RawSocket:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    status: int
    headers: dict[str, str]
    frames: list[Frame] = field(default_factory=list)
    sent_close: bool = False

    @property
    def closes(self) -> list[Frame]:
        return [frame for frame in self.frames if frame.opcode == CLOSE]

    async def read_frame(self) -> Frame | None:
        """The next frame from the server, or None at the end of the connection."""
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                head = await self.reader.readexactly(2)
                masked, length = head[1] & 0x80, head[1] & 0x7F
                assert not masked, "a server's frames are never masked"
                if length == 126:
                    length = struct.unpack("!H", await self.reader.readexactly(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
                payload = await self.reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        frame = Frame(head[0] & 0x0F, payload)
        assert head[0] & 0x80, "the gateway writes only final frames"
        self.frames.append(frame)
        return frame

    async def next_json(self, kind: str) -> object:
        """The next text frame of this `type`, skipping others."""
        while True:
            frame = await self.read_frame()
            assert frame is not None and frame.opcode == TEXT, frame
            body = loads(frame.payload)
            if body["type"] == kind:
                return body

    def send(self, opcode: int, payload: bytes) -> None:
        """A final, masked frame (a client's frames are masked)."""
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(header + mask + masked)

    def send_json(self, body: object) -> None:
        self.send(TEXT, dumps_bytes(body))

    def send_close(self, code: int = 1000) -> None:
        self.sent_close = True
        self.send(CLOSE, struct.pack("!H", code))

    async def until_closed(self) -> list[Frame]:
        """Read to the end of the connection, answering the server's first Close as a browser
        does; the Close frames the server sent."""
        while True:
            frame = await self.read_frame()
            if frame is None:
                break
            if frame.opcode == CLOSE and not self.sent_close:
                self.send_close(frame.close_code or 1000)
        self.writer.close()
        return self.closes


async def open_raw(
    port: int, path: str, headers: dict[str, str] | None = None, host: str = "127.0.0.1"
) -> RawSocket:
    """Upgrade `path` on the gateway at `port`; the socket whatever the answer."""
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *[f"{name}: {value}" for name, value in (headers or {}).items()],
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    async with asyncio.timeout(READ_TIMEOUT_S):
        head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            parsed[name.strip().lower()] = value.strip()
    return RawSocket(reader, writer, int(status_line.split()[1]), parsed)
