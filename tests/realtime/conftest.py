"""Two gateway instances against the real Postgres and Redis, and walks to connect to.

Most tests run both gateways as aiohttp test servers in the test's loop, each with its own
Redis connections and pub/sub listener, exactly as two processes would have; tests/realtime/
test_process.py runs real `python -m services.realtime` processes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import uvloop
from aiohttp import WSMsgType
from aiohttp.test_utils import TestServer

from services.realtime.app import create_app
from services.realtime.limits import GatewayLimits
from shared.jsonutil import loads
from shared.logging_setup import AccessLogger
from shared.settings import Settings
from shared.tokens import issue_token
from tests.realtime.protocol_spec import check_server_frame
from tools.local_services import free_port

RECEIVE_TIMEOUT_S = 10.0
ROOT = Path(__file__).resolve().parents[2]


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """uvloop, as in production (shared/runner.py): the memory tests measure its transports."""
    return {"uvloop": uvloop.new_event_loop}


@dataclass
class Walker:
    id: str
    token: str
    session_id: str


@dataclass
class Walk:
    id: str
    inviter: Walker
    invitee: Walker


async def create_user(db: asyncpg.Connection, settings: Settings) -> Walker:
    user_id = await db.fetchval(
        "INSERT INTO users (email, password_hash, nickname) VALUES ($1, 'x', $2) RETURNING id",
        f"{uuid.uuid4().hex}@example.com",
        f"walker{uuid.uuid4().hex[:6]}",
    )
    session_id = await db.fetchval(
        "INSERT INTO sessions (user_id, refresh_jti, refresh_expires_at)"
        " VALUES ($1, gen_random_uuid(), now() + interval '1 day') RETURNING id",
        user_id,
    )
    token, _ = issue_token(settings.jwt_key, user_id, "access", 900, session_id=session_id)
    return Walker(str(user_id), token, str(session_id))


async def create_walk(db: asyncpg.Connection, settings: Settings, status: str = "accepted") -> Walk:
    inviter = await create_user(db, settings)
    invitee = await create_user(db, settings)
    invitation_id = await db.fetchval(
        "INSERT INTO invitations (inviter_id, invitee_id, status, expires_at, responded_at)"
        " VALUES ($1, $2, $3, $4, now()) RETURNING id",
        uuid.UUID(inviter.id),
        uuid.UUID(invitee.id),
        status,
        dt.datetime.now(dt.UTC) + dt.timedelta(hours=2),
    )
    return Walk(str(invitation_id), inviter, invitee)


class Gateway:
    """One running gateway and the client side of sockets to it."""

    def __init__(self, server: TestServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    def url(self, invitation_id: str, token: str | None = None) -> str:
        path = f"/ws/walk-together/{invitation_id}"
        return str(self.server.make_url(path)) + (f"?token={token}" if token else "")

    async def connect(
        self, invitation_id: str, token: str | None = None, **kwargs: Any
    ) -> aiohttp.ClientWebSocketResponse:
        return await self.session.ws_connect(
            self.url(invitation_id, token), autoping=True, **kwargs
        )

    async def join(self, walk: Walk, walker: Walker) -> tuple[aiohttp.ClientWebSocketResponse, Any]:
        """Connect and read the `hello`."""
        ws = await self.connect(walk.id, walker.token)
        hello = await next_of_type(ws, "hello")
        return ws, hello


async def receive(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    """The next message; a text frame must be a message docs/asyncapi.yaml documents."""
    message = await ws.receive(timeout=RECEIVE_TIMEOUT_S)
    if message.type is WSMsgType.TEXT:
        check_server_frame(loads(message.data))
    return message


async def next_of_type(ws: aiohttp.ClientWebSocketResponse, kind: str) -> Any:
    """The next JSON message of this type, skipping others; fails on close or timeout."""
    while True:
        message = await receive(ws)
        assert message.type is WSMsgType.TEXT, (message.type, message.data, ws.close_code)
        body = loads(message.data)
        if body["type"] == kind:
            return body


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read until the server closes the socket; the close code it sent."""
    while True:
        message = await receive(ws)
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            return ws.close_code
        if message.type is WSMsgType.ERROR:
            return ws.close_code


async def eventually(predicate: Any, timeout_s: float = RECEIVE_TIMEOUT_S) -> None:
    """Poll an (async) predicate until it holds; fail after a generous bound."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.02)


@pytest.fixture
def limits() -> GatewayLimits:
    return GatewayLimits()


def small_receive_buffer(addr_info: Any) -> socket.socket:
    family, kind, proto, _, _ = addr_info
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


@pytest.fixture
async def slow_session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client whose sockets take little into their kernel buffer: a stalled reader's
    backlog reaches the gateway after a few KiB."""
    connector = aiohttp.TCPConnector(socket_factory=small_receive_buffer)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
async def gateways(
    settings: Settings, limits: GatewayLimits, session: aiohttp.ClientSession
) -> AsyncIterator[tuple[Gateway, Gateway]]:
    servers = [TestServer(create_app(settings, limits)) for _ in range(2)]
    for server in servers:
        await server.start_server(access_log_class=AccessLogger)
    try:
        yield Gateway(servers[0], session), Gateway(servers[1], session)
    finally:
        for server in servers:
            await server.close()


@pytest.fixture
def gateway(gateways: tuple[Gateway, Gateway]) -> Gateway:
    return gateways[0]


@pytest.fixture
async def walk(db: asyncpg.Connection, settings: Settings) -> Walk:
    return await create_walk(db, settings)


@dataclass
class GatewayProcess:
    """A real `python -m services.realtime`, its port and what it logged."""

    process: asyncio.subprocess.Process
    port: int
    log_path: Path

    def url(self, invitation_id: str, token: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/walk-together/{invitation_id}?token={token}"

    def log(self) -> str:
        return self.log_path.read_text()


@asynccontextmanager
async def gateway_process(settings: Settings, log_dir: Path) -> AsyncIterator[GatewayProcess]:
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "JWT_SECRET": settings.jwt_key,
        "HOST": "127.0.0.1",
        "REALTIME_PORT": str(port),
        "SHUTDOWN_DRAIN_S": str(settings.shutdown_drain_s),
    }
    log_path = log_dir / f"gateway-{port}.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.realtime",
            env=env,
            cwd=ROOT,
            stdout=log_file,
            stderr=log_file,
        )
    gateway = GatewayProcess(process, port, log_path)
    try:
        async with aiohttp.ClientSession() as session:

            async def healthy() -> bool:
                assert process.returncode is None, gateway.log()
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        return resp.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await eventually(healthy, timeout_s=30)
        yield gateway
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.fixture
async def gateway_processes(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[GatewayProcess, GatewayProcess]]:
    async with (
        gateway_process(settings, tmp_path) as one,
        gateway_process(settings, tmp_path) as two,
    ):
        yield one, two
