"""Apply the SQL migrations in `migrations/` to DATABASE_URL, in order, each once.

The format is dbmate's: `<UTC timestamp>_<what>.sql`, recorded in `schema_migrations`. Each file
runs in its own transaction under an advisory lock, so concurrent runs (several containers
starting at once) apply each file exactly once, and a second run is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_LOCK_ID = 0x77B0_77B0  # any constant shared by all runners

log = logging.getLogger(__name__)


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("*.sql"))


async def apply_migrations(conn: asyncpg.Connection) -> list[str]:
    """Apply what is missing; return the versions applied now."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version text PRIMARY KEY,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for path in migration_files():
            version = path.name.split("_", 1)[0]
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            log.info("applied migration %s", path.name)
            applied_now.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
    return applied_now


async def migrate(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()


def main() -> None:
    from shared.logging_setup import configure_logging
    from shared.settings import DatabaseSettings

    configure_logging()
    settings = DatabaseSettings()
    applied = asyncio.run(migrate(settings.database_url))
    log.info("database is up to date (%d applied now)", len(applied))


if __name__ == "__main__":
    main()
