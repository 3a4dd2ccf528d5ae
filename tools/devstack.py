"""`make run`, `make migrate`, `make push-dead`: the backend on one machine, no set-up by hand.

Uses DATABASE_URL and REDIS_URL when set; otherwise starts embedded PostgreSQL and Redis with
their data under `.data/`. Without JWT_SECRET it makes a development-only one (kept in `.data/`,
so tokens survive restarts) and says so loudly. Then it applies migrations and runs every process
in the foreground; Ctrl-C (or SIGTERM) stops them all.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from tools.local_services import EmbeddedPostgres, EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
DATABASE_NAME = "withbowwow"

PROCESSES = {
    "api": "services.api",
    "push-worker": "services.api.push_worker",
    "realtime": "services.realtime",
}

log = logging.getLogger("devstack")


def _ensure_database(admin_url: str) -> str:
    import asyncpg

    async def create() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            exists = await conn.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", DATABASE_NAME
            )
            if not exists:
                await conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        finally:
            await conn.close()

    asyncio.run(create())
    base, _, query = admin_url.partition("?")
    return f"{base.rpartition('/')[0]}/{DATABASE_NAME}" + (f"?{query}" if query else "")


def prepare_environment(stack: ExitStack, *, full: bool) -> dict[str, str]:
    """The environment every process gets, starting embedded servers where needed
    (only the database when not `full`: migrations and `push-dead` need nothing else)."""
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        postgres = EmbeddedPostgres(DATA / "postgres").start()
        stack.callback(postgres.stop)
        env["DATABASE_URL"] = _ensure_database(postgres.url())
        log.info(
            "started embedded PostgreSQL 16 in .data/postgres (DATABASE_URL=%s)",
            env["DATABASE_URL"],
        )
    if not full:
        return env
    if not env.get("REDIS_URL"):
        redis = EmbeddedRedis(DATA / "redis", persist=True).start()
        stack.callback(redis.stop)
        env["REDIS_URL"] = redis.url
        log.info("started embedded Redis in .data/redis (REDIS_URL=%s)", redis.url)
    if not env.get("JWT_SECRET"):
        secret_file = DATA / "dev_jwt_secret"
        if not secret_file.exists():
            DATA.mkdir(exist_ok=True)
            secret_file.write_text(secrets.token_urlsafe(48))
            secret_file.chmod(0o600)
        env["JWT_SECRET"] = secret_file.read_text().strip()
        env.setdefault("APP_ENV", "development")
        log.warning("!" * 78)
        log.warning(
            "JWT_SECRET is not set: using a DEVELOPMENT-ONLY secret from .data/dev_jwt_secret."
        )
        log.warning("Never run like this in production: set JWT_SECRET to 32+ random bytes.")
        log.warning("!" * 78)
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "services.api.migrate"], env=env, cwd=ROOT, check=True)


def run_all(env: dict[str, str]) -> int:
    children = {
        name: subprocess.Popen([sys.executable, "-m", module], env=env, cwd=ROOT)  # noqa: S603
        for name, module in PROCESSES.items()
    }
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                log.error("%s exited with %s; stopping everything", name, child.returncode)
                exit_code = child.returncode or 1
                stopping = True
        time.sleep(0.2)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["run", "migrate", "push-dead"])
    args = parser.parse_args()
    with ExitStack() as stack:
        env = prepare_environment(stack, full=args.command == "run")
        migrate(env)
        if args.command == "run":
            sys.exit(run_all(env))
        if args.command == "push-dead":
            # The same database `make run` uses, embedded or not.
            dead = [sys.executable, "-m", "services.api.push_worker", "dead"]
            subprocess.run(dead, env=env, cwd=ROOT, check=True)  # noqa: S603


if __name__ == "__main__":
    main()
