"""`make run`, `make migrate`, `make push-dead`: the backend on one machine, no set-up by hand.

Uses DATABASE_URL and REDIS_URL when set; otherwise starts embedded PostgreSQL and Redis with
their data under `.data/`. Without JWT_SECRET it makes a development-only one (kept in `.data/`,
so tokens survive restarts) and says so loudly, once. Then it applies migrations, runs every
process in the foreground and, once the two servers answer, prints a short report of what runs
where; Ctrl-C (or SIGTERM) stops them all.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

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

STARTUP_TIMEOUT_S = 60


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


def prepare_environment(
    stack: ExitStack, *, full: bool, origins: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment every process gets, starting embedded servers where needed
    (only the database when not `full`: migrations and `push-dead` need nothing else).
    `origins` gets, for the start-up report, where PostgreSQL and Redis come from."""
    env = dict(os.environ)
    origins = origins if origins is not None else {}
    origins["postgres"] = "from DATABASE_URL"
    origins["redis"] = "from REDIS_URL"
    if not env.get("DATABASE_URL"):
        postgres = EmbeddedPostgres(DATA / "postgres").start()
        stack.callback(postgres.stop)
        env["DATABASE_URL"] = _ensure_database(postgres.url())
        origins["postgres"] = "embedded, data in .data/postgres"
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
        origins["redis"] = "embedded, data in .data/redis"
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


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _startup_report(env: dict[str, str], origins: dict[str, str]) -> str:
    host = env.get("HOST", "127.0.0.1")
    api = f"http://{host}:{env.get('API_PORT', '8000')}"
    gateway = f"ws://{host}:{env.get('REALTIME_PORT', '8001')}/ws/walk-together/{{invitation_id}}"
    push = (
        f"sends to FCM project {env['FCM_PROJECT_ID']}"
        if env.get("FCM_PROJECT_ID") and env.get("FCM_CREDENTIALS_FILE")
        else "FCM not configured: pushes are logged, not sent"
    )
    rows = [
        ("REST API", f"{api}  (docs/openapi.yaml)"),
        ("walk together", f"{gateway}  (docs/asyncapi.yaml)"),
        ("push worker", push),
        ("email", _email_report(env)),
        ("PostgreSQL", origins["postgres"]),
        ("Redis", origins["redis"]),
    ]
    lines = [f"  {name:<14} {what}" for name, what in rows]
    return "\n".join(["withbowwow is running (Ctrl-C stops everything):", *lines])


def _email_report(env: dict[str, str]) -> str:
    """Where the emails go: the SMTP server's host and port (never its login), or the folder
    of the .eml files a developer opens to click the links."""
    if env.get("SMTP_URL"):
        url = urlsplit(env["SMTP_URL"])
        try:
            where = f"{url.hostname}:{url.port}" if url.port else str(url.hostname)
        except ValueError:
            where = str(url.hostname)
        return f"sent through the SMTP server {where}"
    mail_dir = (ROOT / env.get("MAIL_DIR", ".data/mail")).resolve()
    return f"SMTP_URL not set: written as .eml files under {mail_dir}"


def _wait_until_serving(env: dict[str, str], children: dict[str, subprocess.Popen[bytes]]) -> bool:
    """True once the API and the gateway accept connections; False if a child exits first."""
    host = env.get("HOST", "127.0.0.1")
    ports = [int(env.get("API_PORT", "8000")), int(env.get("REALTIME_PORT", "8001"))]
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children.values()):
            return False
        if all(_answers(host, port) for port in ports):
            return True
        time.sleep(0.2)
    log.warning("the services did not answer within %d s; still waiting", STARTUP_TIMEOUT_S)
    return False


def run_all(env: dict[str, str], origins: dict[str, str]) -> int:
    children = {
        name: subprocess.Popen([sys.executable, "-m", module], env=env, cwd=ROOT)  # noqa: S603
        for name, module in PROCESSES.items()
    }
    if _wait_until_serving(env, children):
        print(_startup_report(env, origins), flush=True)
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
    # The embedded PostgreSQL logs every initdb and pg_ctl command line with its output at INFO:
    # forty lines before the start-up report on a first run. Its warnings still show.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["run", "migrate", "push-dead"])
    args = parser.parse_args()
    with ExitStack() as stack:
        origins: dict[str, str] = {}
        env = prepare_environment(stack, full=args.command == "run", origins=origins)
        migrate(env)
        if args.command == "run":
            sys.exit(run_all(env, origins))
        if args.command == "push-dead":
            # The same database `make run` uses, embedded or not.
            dead = [sys.executable, "-m", "services.api.push_worker", "dead"]
            subprocess.run(dead, env=env, cwd=ROOT, check=True)  # noqa: S603


if __name__ == "__main__":
    main()
