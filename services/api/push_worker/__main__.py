"""`python -m services.api.push_worker`: run the push worker until SIGINT/SIGTERM.
`python -m services.api.push_worker dead [--limit N]`: list the jobs and emails it gave up on."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import asyncpg

from services.api.push_worker.dead_letters import (
    format_dead_emails,
    format_dead_letters,
    list_dead_emails,
    list_dead_letters,
)
from services.api.push_worker.runtime import CredentialsError, open_worker
from shared.logging_setup import configure_logging
from shared.runner import process_settings, use_uvloop
from shared.settings import DatabaseSettings, Settings


async def run_worker(settings: Settings) -> None:
    async with open_worker(settings) as worker:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.stop)
        await worker.run()


async def print_dead_letters(database_url: str, limit: int) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        print(format_dead_letters(await list_dead_letters(conn, limit)))
        print()
        print(format_dead_emails(await list_dead_emails(conn, limit)))
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.api.push_worker")
    parser.add_argument("command", nargs="?", choices=["run", "dead"], default="run")
    parser.add_argument("--limit", type=int, default=100, help="dead: how many, newest first")
    args = parser.parse_args()
    configure_logging()
    if args.command == "dead":
        # Only the database is needed: an operator need not hold the JWT secret to look.
        asyncio.run(print_dead_letters(DatabaseSettings().database_url, args.limit))
        return
    settings = process_settings()
    use_uvloop()
    try:
        asyncio.run(run_worker(settings))
    except CredentialsError as exc:
        sys.exit(f"push worker cannot start: {exc}")


if __name__ == "__main__":
    main()
