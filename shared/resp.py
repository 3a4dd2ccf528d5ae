"""A bare Redis connection over hiredis, for the hot paths: the gateway's pub/sub reader and
batch writer, and the API's feed-head reads (one per feed poll).

redis-py spends, on every reply, a coroutine, an `asyncio.timeout` and a dozen Python calls
around hiredis: on a busy gateway that was 13% of the CPU for the pub/sub reader and most of
the 22% of the batch writer (bench/RESULTS.md). Here an asyncio (buffered) protocol feeds each
chunk the socket delivers to one `hiredis.Reader` and hands every complete reply in it on at once: a
pub/sub message to a plain callback, a command's reply to the batch waiting for it. Commands
are packed by hiredis, and whatever is sent in one loop iteration goes out in one write. Many
requests can share one connection: replies come back in the order the batches were written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import hiredis
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

# A Redis command and its arguments, as hiredis packs it (the gateway's batches hold these too).
Command = tuple[Any, ...]
Address = tuple[str, int]
CONNECT_TIMEOUT_S = 2.0
# In subscribed mode (RESP2) every reply is an array whose first element says what it is.
# Sharded pub/sub (a cluster's walk channels) answers as `smessage`, `ssubscribe`, `sunsubscribe`.
PUSH_KINDS = frozenset(
    {
        b"message",
        b"subscribe",
        b"unsubscribe",
        b"pong",
        b"smessage",
        b"ssubscribe",
        b"sunsubscribe",
    }
)
# What `on_push` gets for an error reply nobody waits for (a MOVED answer to an SSUBSCRIBE).
ERROR_PUSH = b"-error"
# Outside subscribed mode (a pub/sub connection with no channel yet, or none left) Redis answers
# PING with a plain +PONG instead; it is handed on as the same push as a subscribed-mode pong.
PLAIN_PONG = b"PONG"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a bare connection goes and how it logs in: REDIS_URL's server, or (`at`) another
    node of its cluster with the same credentials."""

    host: str = "localhost"
    port: int = 6379
    path: str | None = None
    username: str | None = None
    password: str | None = None
    db: int = 0

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        kwargs = parse_url(url)
        return cls(
            host=str(kwargs.get("host", "localhost")),
            port=int(kwargs.get("port", 6379)),
            path=kwargs.get("path"),
            username=kwargs.get("username"),
            password=kwargs.get("password"),
            db=int(kwargs.get("db", 0)),
        )

    def at(self, address: Address) -> Endpoint:
        """The same login on another node (cluster nodes have no databases but 0)."""
        return replace(self, host=address[0], port=address[1], path=None, db=0)

    @property
    def address(self) -> Address:
        return (self.host, self.port)


# What one read takes at most. Smaller than the socket's buffer on purpose: uvloop (libuv) reads
# a stream again, up to 32 times in one loop iteration, while each read fills the buffer, so a
# pub/sub reader that is behind drains up to 2 MB an iteration instead of one socket buffer
# (about 200 KB on a unix socket): however long the iteration, Redis's output buffer for it
# stays small (bench/RESULTS.md, issue 15).
READ_CHUNK = 64 * 1024


class RespConnection(asyncio.BufferedProtocol):
    """One connection; `on_push`, when given, receives the pub/sub arrays as they arrive."""

    def __init__(self, on_push: Callable[[list[Any]], None] | None = None) -> None:
        self._reader = hiredis.Reader()
        self._buffer = bytearray(READ_CHUNK)
        # When a byte last came: a connection that keeps answering is alive, however slowly.
        self.read_at = time.monotonic()
        self._on_push = on_push
        self._transport: asyncio.Transport | None = None
        self._outgoing: list[bytes] = []
        # Batches in the order they were written: (answer, how many replies, replies so far).
        self._waiting: deque[tuple[asyncio.Future[list[Any]], int, list[Any]]] = deque()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's does not subclass it

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        error = RedisConnectionError(f"connection to Redis lost: {exc or 'closed'}")
        while self._waiting:
            future, _, _ = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)
        if not self.lost.done():
            self.lost.set_result(None)

    @property
    def usable(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def get_buffer(self, sizehint: int) -> bytearray:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        """hiredis copies what it is fed, so the one buffer is reused for every read."""
        self.read_at = time.monotonic()
        reader = self._reader
        reader.feed(self._buffer, 0, nbytes)  # type: ignore[arg-type]  # any buffer works
        while True:
            try:
                reply = reader.gets()
            except hiredis.ProtocolError as exc:
                log.warning("Redis protocol error: %s", exc)
                self.abort()
                return
            if reply is False:
                return
            if self._on_push is not None and (
                (type(reply) is list and reply and reply[0] in PUSH_KINDS)
                or (not self._waiting and isinstance(reply, hiredis.ReplyError))
            ):
                if type(reply) is not list:
                    reply = [ERROR_PUSH, str(reply)]
                try:
                    self._on_push(reply)
                except Exception:
                    log.exception("handling a %s from Redis failed", reply[0])
                continue
            if self._on_push is not None and reply == PLAIN_PONG and not self._waiting:
                self._on_push([b"pong", b""])
                continue
            self._answer(reply)

    def _answer(self, reply: Any) -> None:
        if not self._waiting:
            log.warning("Redis reply nobody asked for: %r", reply)
            return
        future, expected, replies = self._waiting[0]
        if isinstance(reply, hiredis.ReplyError):
            reply = ResponseError(str(reply))
        replies.append(reply)
        if len(replies) == expected:
            self._waiting.popleft()
            if not future.done():
                future.set_result(replies)

    def send(self, commands: Sequence[Command]) -> None:
        """Write commands whose replies come back as pushes (subscribed mode), or not at all.

        Queued until the end of this loop iteration, so a storm of (UN)SUBSCRIBEs is one write.
        """
        if not self.usable:
            raise RedisConnectionError("not connected to Redis")
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._write_outgoing)
        self._outgoing += [hiredis.pack_command(command) for command in commands]

    def _write_outgoing(self) -> None:
        data = b"".join(self._outgoing)
        self._outgoing.clear()
        if self.usable:
            assert self._transport is not None
            self._transport.write(data)

    def execute(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        """Write commands now; the future gets their replies, an error reply as a ResponseError."""
        if not self.usable:
            raise RedisConnectionError("not connected to Redis")
        assert self._transport is not None
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiting.append((future, len(commands), []))
        self._transport.write(b"".join([hiredis.pack_command(command) for command in commands]))
        return future

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def connect(
    endpoint: Endpoint,
    name: str,
    on_push: Callable[[list[Any]], None] | None = None,
    timeout_s: float = CONNECT_TIMEOUT_S,
) -> RespConnection:
    """A new connection to `endpoint`, logged in, on its database."""
    loop = asyncio.get_running_loop()

    def factory() -> RespConnection:
        return RespConnection(on_push)

    async with asyncio.timeout(timeout_s):
        if endpoint.path:
            _, connection = await loop.create_unix_connection(factory, endpoint.path)
        else:
            _, connection = await loop.create_connection(factory, endpoint.host, endpoint.port)
        setup: list[Command] = []
        if endpoint.password:
            user = (endpoint.username,) if endpoint.username else ()
            setup.append(("AUTH", *user, endpoint.password))
        if endpoint.db:
            setup.append(("SELECT", endpoint.db))
        setup.append(("CLIENT", "SETNAME", name))
        try:
            replies = await connection.execute(setup)
        except BaseException:
            connection.abort()
            raise
    for reply in replies:
        if isinstance(reply, Exception):
            connection.abort()
            raise reply
    return connection


class SharedConnection:
    """One `RespConnection` that every request of a process shares, for a read so frequent that
    redis-py's per-command overhead shows (the feed poll's head). Made on first use and again
    after it is lost; a call whose connection stays silent for `timeout_s` fails and drops it
    (replies that keep coming, only late, are no failure). After a failed connect, calls fail
    at once for RETRY_AFTER_S rather than each waiting on a connect of its own. Every failure
    is a RedisError."""

    RETRY_AFTER_S = 1.0

    def __init__(self, endpoint: Endpoint, name: str, timeout_s: float) -> None:
        self._endpoint = endpoint
        self._name = name
        self._timeout_s = timeout_s
        self._connection: RespConnection | None = None
        self._connecting = asyncio.Lock()
        self._down_until = 0.0

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        connection = self._connection
        if connection is None or not connection.usable:
            connection = await self._reconnect()
        reply = connection.execute(commands)
        timer = asyncio.get_running_loop().call_later(
            self._timeout_s, self._expire, connection, reply
        )
        try:
            return await reply
        finally:
            timer.cancel()

    def _expire(self, connection: RespConnection, reply: asyncio.Future[list[Any]]) -> None:
        """A reply is late: fail it and drop the connection if it has been silent the whole
        time; one still answering (a busy process reads it late, a big batch takes long) is
        only slow, and is looked at again when it would have been silent that long."""
        if reply.done():
            return
        silent_s = time.monotonic() - connection.read_at
        if silent_s < self._timeout_s:
            asyncio.get_running_loop().call_later(
                self._timeout_s - silent_s, self._expire, connection, reply
            )
            return
        reply.set_exception(RedisTimeoutError(f"no reply from Redis in {self._timeout_s} s"))
        connection.abort()

    async def _reconnect(self) -> RespConnection:
        async with self._connecting:
            if self._connection is not None and self._connection.usable:
                return self._connection
            if time.monotonic() < self._down_until:
                raise RedisConnectionError("Redis was unreachable a moment ago")
            try:
                self._connection = await connect(self._endpoint, self._name)
            except (OSError, TimeoutError, RedisError) as exc:
                self._down_until = time.monotonic() + self.RETRY_AFTER_S
                raise RedisConnectionError(f"cannot connect to Redis: {exc!r}") from None
            return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
