"""shared.resp.SharedConnection: one pipelined Redis connection for many concurrent requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.resp import Endpoint, SharedConnection


class SilentServer:
    """A TCP server that answers the connection's set-up (CLIENT SETNAME) with OK and then
    nothing; it records its connections."""

    def __init__(self) -> None:
        self.accepted = 0
        self.closed = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if await reader.read(4096):
            writer.write(b"+OK\r\n")
        while await reader.read(4096):  # until the client goes away
            pass
        self.closed.set()
        writer.close()

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        port_number: int = self.server.sockets[0].getsockname()[1]
        return port_number


@pytest.fixture
async def silent() -> AsyncIterator[SilentServer]:
    server = SilentServer()
    yield server
    if server.server is not None:
        server.server.close()


async def test_concurrent_callers_each_get_their_own_reply(
    redis: aioredis.Redis, redis_url: str
) -> None:
    await redis.mset({f"k{i}": f"v{i}" for i in range(300)})
    shared = SharedConnection(Endpoint.from_url(redis_url), "test-shared", 5.0)
    try:
        replies = await asyncio.gather(*(shared.execute([("GET", f"k{i}")]) for i in range(300)))
        assert replies == [[f"v{i}".encode()] for i in range(300)]
        assert await shared.execute([("SET", "a", "1"), ("INCR", "a"), ("GET", "nope")]) == [
            b"OK",
            2,
            None,
        ]
    finally:
        shared.close()


async def test_a_lost_connection_is_made_again(redis: aioredis.Redis, redis_url: str) -> None:
    shared = SharedConnection(Endpoint.from_url(redis_url), "test-shared-kill", 5.0)
    try:
        await shared.execute([("PING",)])
        killed = await redis.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        assert killed >= 1
        for _ in range(50):  # until the event loop has seen the connection close
            try:
                assert await shared.execute([("PING",)]) == [b"PONG"]
                break
            except RedisConnectionError:
                await asyncio.sleep(0.02)
        assert await shared.execute([("PING",)]) == [b"PONG"]
    finally:
        shared.close()


async def test_after_a_failed_connect_calls_fail_at_once(silent: SilentServer) -> None:
    port = await silent.start()
    assert silent.server is not None
    silent.server.close()
    await silent.server.wait_closed()
    shared = SharedConnection(Endpoint("127.0.0.1", port), "test-down", 5.0)
    with pytest.raises(RedisConnectionError, match="cannot connect"):
        await shared.execute([("PING",)])
    await silent.start(port)  # something listens again, but within RETRY_AFTER_S nobody tries
    with pytest.raises(RedisConnectionError, match="a moment ago"):
        await shared.execute([("PING",)])
    assert silent.accepted == 0


async def test_a_redis_that_does_not_answer_fails_the_call_and_the_connection(
    silent: SilentServer,
) -> None:
    port = await silent.start()
    shared = SharedConnection(Endpoint("127.0.0.1", port), "test-silent", 0.3)
    with pytest.raises(RedisTimeoutError):
        await shared.execute([("GET", "x")])
    await asyncio.wait_for(silent.closed.wait(), 5)
    assert silent.accepted == 1


async def test_a_reply_that_keeps_coming_late_is_waited_for() -> None:
    """Only silence fails a call: bytes that trickle in for longer than the timeout (a busy
    gateway reading a big batch's replies late) keep the connection and the call alive."""

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(4096)  # CLIENT SETNAME
        writer.write(b"+OK\r\n")
        await reader.read(4096)  # GET x
        for part in (b"$5\r\nab", b"cd", b"e\r\n"):
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.2)
        await reader.read(4096)
        writer.close()

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        shared = SharedConnection(Endpoint("127.0.0.1", port), "test-trickle", 0.3)
        assert await shared.execute([("GET", "x")]) == [b"abcde"]
    finally:
        shared.close()
        server.close()
