"""Fixtures: real PostgreSQL and Redis, isolated per test.

PostgreSQL: the server at 127.0.0.1:5432 when it answers (else an embedded one under
`.data/test/`); one database is migrated once per session as a template, and each test gets a
fresh clone of it. Redis: the server at 127.0.0.1:6379 when it answers (else an embedded one),
on a database index this session holds a lock on (so concurrent runs never meet), flushed before
each test. Nothing here touches the data of `make run`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis as sync_redis
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser

from services.api.app import create_app
from services.api.migrate import migrate
from shared.logging_setup import AccessLogger, TextFormatter
from shared.settings import Settings
from tests.browser_support import chromium
from tests.support import Api, make_settings
from tools.local_services import (
    LOCAL_POSTGRES_URL,
    LOCAL_REDIS_URL,
    EmbeddedPostgres,
    EmbeddedRedis,
    port_open,
)

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / ".data" / "test"
_PREFIX = f"wbt_{os.getpid()}"
# Every app and process a test starts binds its internal metrics listener to a free port, so
# concurrent runs (and the services under `make run`) never meet on 9100-9102.
for _name in ("API_METRICS_PORT", "REALTIME_METRICS_PORT", "PUSH_METRICS_PORT"):
    os.environ[_name] = "0"
_counter = itertools.count()


# What no log line of the whole run may hold: a JWT (each starts with `eyJ`), the passwords the
# tests use, an email address (the test users' are all @example.com).
PASSWORDS_USED = ("correct horse", "wrong horse", "wrong one", "whatever1", "12345678")
_LEAKS = re.compile(
    "|".join(["eyJ", *map(re.escape, PASSWORDS_USED), r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b"])
)


class LeakWatch(logging.Handler):
    """Formats every record as a service would write it, and keeps those holding a secret."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(TextFormatter())
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        if _LEAKS.search(line):
            self.leaks.append(line[:500])


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log() -> Iterator[LeakWatch]:
    """Every line logged in this run (INFO and up, the access log included) is checked; a leak
    fails the run at its end, naming the lines."""
    watch = LeakWatch()
    root = logging.getLogger()
    level = root.level
    root.setLevel(min(level, logging.INFO))
    root.addHandler(watch)
    yield watch
    root.removeHandler(watch)
    root.setLevel(level)
    assert watch.leaks == [], "\n".join(watch.leaks[:20])


@pytest.fixture
def aiohttp_server(aiohttp_server: Any) -> Any:
    """Test servers log requests with the services' own access logger (shared/runner.py's),
    not aiohttp's default one, which writes the whole request line, query string and all."""

    async def start(app: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("access_log_class", AccessLogger)
        return await aiohttp_server(app, **kwargs)

    return start


@pytest.fixture
def aiohttp_client(aiohttp_client: Any) -> Any:
    async def start(app: Any, *, server_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if isinstance(app, web.Application):
            server = TestServer(app, **(server_kwargs or {}))
            await server.start_server(access_log_class=AccessLogger)
            app = server
        return await aiohttp_client(app, **kwargs)

    return start


def _with_database(dsn: str, database: str) -> str:
    """`dsn` pointed at another database (works for host:port and unix-socket DSNs)."""
    base, _, query = dsn.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{database}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        yield url
    elif port_open("127.0.0.1", 5432):
        yield LOCAL_POSTGRES_URL
    else:
        server = EmbeddedPostgres(TEST_DATA / "postgres").start()
        try:
            yield server.url()
        finally:
            server.stop()


@pytest.fixture(scope="session")
def template_database(pg_admin_dsn: str) -> Iterator[str]:
    name = f"{_PREFIX}_template"

    async def create() -> None:
        conn = await asyncpg.connect(pg_admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        await migrate(_with_database(pg_admin_dsn, name))

    asyncio.run(create())
    yield name

    async def drop() -> None:
        conn = await asyncpg.connect(pg_admin_dsn)
        try:
            # starts_with, not LIKE: in LIKE "_" is a wildcard, and wbt_12_% would also match
            # (and drop) the databases of a concurrent run whose pid is 123.
            rows = await conn.fetch(
                "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", f"{_PREFIX}_"
            )
            for row in rows:
                await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture
async def database_url(pg_admin_dsn: str, template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database for this test alone."""
    name = f"{_PREFIX}_{next(_counter)}"
    conn = await asyncpg.connect(pg_admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await conn.close()
    yield _with_database(pg_admin_dsn, name)
    conn = await asyncpg.connect(pg_admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _take_test_db_lock(client: sync_redis.Redis, index: int, owner: str) -> bool:
    """Lock Redis database `index` for this run; a lock left by a run on this host that was
    killed (its process is gone) is taken over, so killed runs never starve later ones."""
    key = f"withbowwow:test-db-lock:{index}"
    if client.set(key, owner, nx=True, ex=3600):
        return True
    held = client.get(key)
    host, _, rest = (held or b"").decode(errors="replace").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or _process_alive(int(pid)):
        return False
    with client.pipeline() as pipe:  # compare-and-set: only if nobody took it meanwhile
        try:
            pipe.watch(key)
            if pipe.get(key) != held:
                return False
            pipe.multi()
            pipe.set(key, owner, ex=3600)
            pipe.execute()
        except sync_redis.WatchError:
            return False
    return True


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def redis_base_url() -> Iterator[str]:
    """A Redis database index no concurrent test session uses."""
    url = os.environ.get("TEST_REDIS_URL")
    embedded: EmbeddedRedis | None = None
    if not url:
        if port_open("127.0.0.1", 6379):
            url = LOCAL_REDIS_URL
        else:
            embedded = EmbeddedRedis(TEST_DATA / f"redis-{os.getpid()}").start()
            url = embedded.url
    lock_client = sync_redis.Redis.from_url(url)
    owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    index = next(
        (i for i in range(1, 16) if _take_test_db_lock(lock_client, i, owner)),
        None,
    )
    if index is None:
        raise RuntimeError("all Redis test database indexes 1..15 are held by other test runs")
    base = url.partition("?")[0]
    test_url = (
        f"{base}?db={index}" if base.startswith("unix:") else f"{base.rsplit('/', 1)[0]}/{index}"
    )
    try:
        yield test_url
    finally:
        if lock_client.get(f"withbowwow:test-db-lock:{index}") == owner.encode():
            lock_client.delete(f"withbowwow:test-db-lock:{index}")
        lock_client.close()
        if embedded:
            embedded.stop()


@pytest.fixture
async def redis_url(redis_base_url: str) -> str:
    client = aioredis.Redis.from_url(redis_base_url)
    await client.flushdb()
    await client.aclose()
    return redis_base_url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to this test's database, for arranging and asserting."""
    from shared.db import init_connection

    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    yield conn
    await conn.close()


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    return make_settings(database_url, redis_url)


@pytest.fixture
async def api_client(settings: Settings, aiohttp_client: Any) -> TestClient:
    # `settings` first: its database must outlive the app (fixtures tear down in reverse).
    return await aiohttp_client(create_app(settings))


@pytest.fixture
def api(api_client: TestClient) -> Api:
    return Api(api_client)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium (Debian's binary), one a test: tests/browser_support.py."""
    async with chromium() as launched:
        yield launched
