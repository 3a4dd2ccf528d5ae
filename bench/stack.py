"""What every scenario runs against: its own database, its own Redis, a JWT secret.

The bench database is `withbowwow_bench` on the PostgreSQL at 127.0.0.1:5432 when it answers
(else an embedded one under `.data/bench/`), migrated with `services.api.migrate`; Redis is always
a private embedded server on a unix socket, so no bench run meets test or `make run` data (Redis
pub/sub channels ignore the database index, so a separate server is the only real isolation).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.seed import refresh_invitations
from services.api.migrate import migrate
from tools.local_services import (
    LOCAL_POSTGRES_URL,
    EmbeddedPostgres,
    EmbeddedRedis,
    free_port,
    port_open,
)

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATA = ROOT / ".data" / "bench"
DATABASE_NAME = "withbowwow_bench"


@dataclass(frozen=True)
class Stack:
    database_url: str
    redis_url: str
    jwt_secret: str
    log_dir: Path

    async def refresh(self) -> None:
        """Before each gateway measurement: every bench walk accepted and fresh again."""
        conn = await asyncpg.connect(self.database_url)
        try:
            await refresh_invitations(conn)
        finally:
            await conn.close()

    def service_env(self, **extra: str) -> dict[str, str]:
        """Environment for a service process: quiet logs (no access log line per request)."""
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            JWT_SECRET=self.jwt_secret,
            APP_ENV="production",
            LOG_LEVEL="WARNING",
            HOST="127.0.0.1",
            # Several instances run at once: each internal metrics listener takes a free port.
            API_METRICS_PORT="0",
            REALTIME_METRICS_PORT="0",
            PUSH_METRICS_PORT="0",
        )
        env.update(extra)
        return env


def _with_database(dsn: str, database: str) -> str:
    base, _, query = dsn.partition("?")
    head, _, _ = base.rpartition("/")
    return f"{head}/{database}" + (f"?{query}" if query else "")


async def ensure_database(admin_url: str, name: str = DATABASE_NAME) -> str:
    """The bench database `name`, created when missing, with every migration applied."""
    conn = await asyncpg.connect(admin_url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = _with_database(admin_url, name)
    await migrate(url)
    return url


@contextmanager
def bench_servers() -> Iterator[tuple[str, str]]:
    """(PostgreSQL admin URL, Redis URL), starting embedded servers where needed."""
    with ExitStack() as stack:
        admin_url = os.environ.get("BENCH_POSTGRES_URL", "")
        if not admin_url and port_open("127.0.0.1", 5432):
            admin_url = LOCAL_POSTGRES_URL
        if not admin_url:
            postgres = EmbeddedPostgres(BENCH_DATA / "postgres").start()
            stack.callback(postgres.stop)
            admin_url = postgres.url()
        # On loopback TCP, as production reaches Redis: a unix socket's ~200 KB buffer is all a
        # gateway can write to or read from it in one loop iteration (bench/RESULTS.md).
        redis = EmbeddedRedis(BENCH_DATA / "redis", tcp_port=free_port()).start()
        stack.callback(redis.stop)
        yield admin_url, redis.url


def new_jwt_secret() -> str:
    return secrets.token_urlsafe(48)
