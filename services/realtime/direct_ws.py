"""A WebSocket response whose text frames reach a plain callback as soon as they are parsed.

aiohttp puts every parsed frame in a queue and wakes the handler's task, which `receive()` then
returns to: a future, a task step and two coroutine calls a message, most of what a location
cost the gateway besides parsing (bench/RESULTS.md, issue 15). Here, once `on_text` is set, the
queue hands a text frame to it synchronously, in the callback that read the socket's bytes; the
handler's task is woken only by what aiohttp must see itself (close, ping, pong, errors, binary
frames), so `receive()` still completes the close handshake and answers pings.

The socket's one Close frame (CONTRACT section 4, RFC 6455 section 7): the gateway writes a
server-initiated Close itself, synchronously (rooms.py closes thousands at once), and
`claim_close` marks aiohttp's response closed at the same moment, so that nothing aiohttp does
afterwards (`close()` when the handler returns, its answer to a broken frame) sends a second
one. A browser that gets a Close after its reply to ours fails the connection with 1006.
`closing_handshake` then reads the client's reply, as aiohttp's `close()` would have.

It relies on private names of aiohttp (its reader calling the queue's `feed_data`, a `cpdef`
method whose Python override the compiled reader honours; `_post_start`; the protocol's
`_payload_parser` and `_message_tail`; the response's `_closed`, `_set_closed()`, `_closing`
and `_close_transport()`), pinned with aiohttp in the lock files. They are listed with every
other one our code uses in shared/aiohttp_internals.py, and
tests/realtime/test_aiohttp_internals.py fails, naming the one, the day an aiohttp upgrade
breaks any of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from aiohttp import WSMessage, WSMsgType, web
from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader
from aiohttp._websocket.writer import WebSocketWriter
from aiohttp.web_request import BaseRequest

# Put in aiohttp's queue to wake the handler's `receive()` (the callback asked for a close).
WAKE_UP = WSMessage(WSMsgType.TEXT, None, None)


class _TextToCallback(WebSocketDataQueue):
    # The callback is the process's one; `owner` says whose socket (no closure a socket).
    __slots__ = ("on_text", "owner")

    def __init__(self, protocol: Any, limit: int, *, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(protocol, limit, loop=loop)
        self.on_text: Callable[[Any, str], None] | None = None
        self.owner: Any = None

    def feed_data(self, data: Any, size: int) -> None:
        """Frames already queued go first: the callback's turn starts once they are read."""
        on_text = self.on_text
        if on_text is not None and data[0] is WSMsgType.TEXT and not self._buffer:
            on_text(self.owner, data[1])
        else:
            super().feed_data(data, size)


def _drop_what_compression_and_masking_use(writer: WebSocketWriter) -> None:
    """An uncompressed server writer never takes its lock (compressed frames only), never
    starts a background task (large compressed frames only) and never masks (clients only):
    ~450 bytes a socket. None, not a shared stand-in: a writer that did compress or mask would
    fail at once rather than share state (tests/realtime/test_aiohttp_internals.py)."""
    if not writer.compress and not writer.use_mask:
        writer._send_lock = None  # type: ignore[assignment]
        writer._background_tasks = None  # type: ignore[assignment]
        writer.get_random_bits = None  # type: ignore[assignment]


class DirectWebSocketResponse(web.WebSocketResponse):
    """`on_text(callback, owner)` switches text frames to `callback(owner, text)`; until then
    (or when the request's bytes already held the start of a frame, which stays with aiohttp's
    own reader) they come out of `receive()` as usual."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Every attribute an open socket's response sets later (`prepare()`, `_post_start`),
        # set here to the class's own default, so that the first response to be made puts them
        # all in the class's shared keys (CPython 3.11). The keys take at most 30 names and a
        # few fewer with each response made before they are complete: when many handshakes
        # wait for their turn (turns.py) before the first is prepared, the later names no
        # longer fit, and every response from then on gets a dict of its own (~1.3 KB a socket,
        # tests/realtime/test_memory.py). The names set only as a socket closes (`_closed`,
        # `_close_code`, `_exception`, ...) are left out: 30 could not hold them too, and a
        # closing socket's dict lives as long as its close.
        self._loop = None
        self._keep_alive = None
        self._must_be_empty_body = None
        self._req = None
        self._payload_writer = None
        self._ws_protocol = None
        self._writer = None
        self._reader = None
        self._parser = None
        self._waiting = False

    def _post_start(
        self, request: BaseRequest, protocol: str | None, writer: WebSocketWriter
    ) -> None:
        handler = request.protocol
        # Bytes after the upgrade request are fed to aiohttp's parser by `super()`; a partial
        # frame there must stay with that parser.
        tail = getattr(handler, "_message_tail", b"")
        super()._post_start(request, protocol, writer)
        _drop_what_compression_and_masking_use(writer)
        # The handshake's answer is written (serialized when `prepare()` wrote the head), and
        # nothing reads a response's headers after that: ~0.3 KB a socket.
        self.headers.clear()
        if tail or self._loop is None:
            return
        queue = _TextToCallback(handler, 2**16, loop=self._loop)
        parser = WebSocketReader(queue, self._max_msg_size, compress=False, decode_text=True)
        # No attribute of our own: one more would cost every response its key-sharing dict.
        self._reader = queue
        self._parser = parser
        handler._payload_parser = parser

    def on_text(self, callback: Callable[[Any, str], None] | None, owner: Any = None) -> None:
        """None hands text frames back to `receive()` (and drops the references)."""
        if isinstance(self._reader, _TextToCallback):
            self._reader.on_text = callback
            self._reader.owner = owner

    def claim_close(self) -> bool:
        """True once, for the caller that is to write this socket's Close frame now; from then
        on aiohttp sends none (its `close()` returns at once) and `closed` is True."""
        if self._closed:
            return False
        self._set_closed()
        return True

    async def closing_handshake(self, timeout_s: float | None = None) -> None:
        """After our Close (`claim_close`): drop what the client still sends until its Close,
        or the end of the connection, then close the connection (RFC 6455 section 7.1.1: the
        server closes TCP first). Without `timeout_s` the caller bounds the wait otherwise
        (rooms.py's reaper cuts the connection off); text frames meanwhile go to the callback,
        which ignores a closing socket's."""
        reader = self._reader
        if not self._closing and reader is not None:
            # The connection's end, a broken frame or no reply in time end the wait as well.
            with suppress(Exception):
                async with asyncio.timeout(timeout_s):
                    while (await reader.read()).type is not WSMsgType.CLOSE:
                        pass
            self._closing = True
        self._close_transport()

    def wake_up(self) -> None:
        """Make the pending `receive()` return `WAKE_UP`."""
        if self._reader is not None:
            WebSocketDataQueue.feed_data(self._reader, WAKE_UP, 0)
