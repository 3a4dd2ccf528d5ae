"""A ZIP archive written straight into a streamed HTTP response, entry after entry.

The standard library's `zipfile` writes to a sink that cannot seek (`_Sink`): each entry's sizes
and CRC then follow its data (a data descriptor) rather than being patched into its header, so
nothing is ever rewritten and nothing but the entry in hand is kept. After each piece the bytes
the sink holds go out to the client (`web.StreamResponse.write`, which waits while the client's
buffers are full), so memory stays bounded by one entry's piece, however large the archive.

Compressing and building a large piece (a walk's GPX) runs in a worker thread: zlib releases
the GIL, and the event loop keeps serving other requests meanwhile. Only one piece is in work
at a time, so the ZipFile is never touched by two threads at once.
"""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import IO, Any

from aiohttp import web

from shared.jsonutil import dumps_bytes

# zlib's fastest level: a GPX track compresses 5x at level 1 and barely better at 6, at three
# times the CPU (bench/export.py measures the whole archive).
COMPRESS_LEVEL = 1
# A client that takes no bytes for this long is gone: stop, and let the snapshot go.
STALL_TIMEOUT_S = 60.0
# JSON lists go out in pieces of this many items.
ITEMS_PER_PIECE = 500


class _Sink:
    """What `zipfile` writes to: an unseekable buffer that the archive empties into the
    response (no `seek` or `tell`, so `zipfile` streams)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


class ZipStream:
    """A ZIP being written to `response` (already prepared)."""

    def __init__(self, response: web.StreamResponse) -> None:
        self._response = response
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(
            self._sink,
            mode="w",
            compression=zipfile.ZIP_DEFLATED,
            compresslevel=COMPRESS_LEVEL,
        )

    async def _send(self) -> None:
        data = self._sink.take()
        if data:
            async with asyncio.timeout(STALL_TIMEOUT_S):
                await self._response.write(data)

    @asynccontextmanager
    async def _entry(self, name: str) -> AsyncIterator[IO[bytes]]:
        with self._zip.open(name, mode="w") as entry:
            yield entry
        await self._send()

    async def write_file(self, name: str, build: Callable[[], bytes]) -> None:
        """An entry whose content `build` makes (in a worker thread, compressed there too)."""

        def build_and_write(entry: IO[bytes]) -> None:
            entry.write(build())

        async with self._entry(name) as entry:
            await asyncio.to_thread(build_and_write, entry)

    async def write_json(self, name: str, value: Any) -> None:
        """A small JSON entry."""
        async with self._entry(name) as entry:
            entry.write(dumps_bytes(value))

    def json_list(self, name: str) -> AbstractAsyncContextManager[JsonList]:
        """A JSON entry whose lists are written item by item (see `JsonList`)."""
        return self._json_list(name)

    @asynccontextmanager
    async def _json_list(self, name: str) -> AsyncIterator[JsonList]:
        async with self._entry(name) as entry:
            writer = JsonList(entry, self._send)
            yield writer
            writer.end()

    async def close(self) -> None:
        """Write the central directory and send the rest."""
        self._zip.close()
        await self._send()


class JsonList:
    """One JSON entry made of a list (`items`), or of an object whose members are lists
    (`member`), written as the rows arrive."""

    def __init__(self, entry: IO[bytes], send: Callable[[], Any]) -> None:
        self._entry = entry
        self._send = send
        self._members = 0
        self._in_object = False

    async def items(self, values: Iterable[Any] | Any) -> None:
        """The list (or the current member's list): `values` is an iterable or an async
        iterable of JSON values."""
        self._entry.write(b"[")
        first = True
        count = 0
        if hasattr(values, "__aiter__"):
            async for value in values:
                first = self._item(value, first)
                count += 1
                if count % ITEMS_PER_PIECE == 0:
                    await self._send()
        else:
            for value in values:
                first = self._item(value, first)
        self._entry.write(b"]")

    def _item(self, value: Any, first: bool) -> bool:
        self._entry.write(dumps_bytes(value) if first else b"," + dumps_bytes(value))
        return False

    async def member(self, key: str, values: Iterable[Any] | Any) -> None:
        """`"key": [values...]` of an object entry."""
        self._entry.write((b"," if self._members else b"{") + dumps_bytes(key) + b":")
        self._in_object = True
        self._members += 1
        await self.items(values)

    def end(self) -> None:
        if self._in_object:
            self._entry.write(b"}")
