"""Email fixtures: a real SMTP server in the test process (aiosmtpd), whose answers a test can
script (`451 ...`, `550 ...`, or `drop` to close the connection mid-DATA), settings for a
fast-retrying worker, and helpers to read the emails and their links."""

from __future__ import annotations

import email
import email.policy
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from shared.settings import Settings
from tests.support import make_settings

# aiosmtpd logs each envelope's addresses at INFO: not a line our services write, and the
# session-wide leak check would rightly refuse it.
logging.getLogger("mail.log").setLevel(logging.WARNING)

FAST_EMAIL = {
    "email_poll_interval_s": 0.05,
    "email_retry_base_s": 0.05,
    "email_retry_max_s": 0.2,
    "smtp_timeout_s": 5.0,
}
SMTP_USER, SMTP_PASSWORD = "mailer", "s3cret pass"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Inbox:
    """What the server received, and the answers it is to give to the next DATA commands."""

    received: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            answer = self.answers.pop(0) if self.answers else "250 OK"
            if answer == "drop":
                assert server.transport is not None
                server.transport.close()
                return "421 closing"  # never reaches the client
            if answer.startswith("250"):
                content = envelope.content
                raw = content if isinstance(content, bytes) else str(content).encode()
                parsed = email.message_from_bytes(raw, policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                self.received.append(parsed)
                self.recipients.append(list(envelope.rcpt_tos))
            return answer

    def count(self) -> int:
        with self.lock:
            return len(self.received)


class SmtpServer:
    """aiosmtpd on 127.0.0.1:`port`, which a test may stop and start again (SMTP down)."""

    def __init__(self, port: int, *, auth: bool = False) -> None:
        self.port = port
        self.inbox = Inbox()
        self._auth = auth
        self._controller: Controller | None = None

    def url(self, user: str | None = None, password: str | None = None) -> str:
        credentials = f"{user}:{password}@" if user else ""
        return f"smtp://{credentials}127.0.0.1:{self.port}"

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self._auth:
            kwargs = {
                "authenticator": _check_login,
                "auth_require_tls": False,
                "auth_required": True,
            }
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def _check_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login == SMTP_USER.encode()
        and data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def email_settings_for(
    database_url: str, redis_url: str, tmp_path: Path
) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values = {**FAST_EMAIL, "mail_dir": str(tmp_path / "mail"), **overrides}
        return make_settings(database_url, redis_url, **values)

    return build


_LINK = re.compile(r"(https?://[^\s\"<>]+/account/(verify|reset|delete)\?token=([\w-]+))")


def link_in(message: EmailMessage) -> tuple[str, str]:
    """The (link, token) of an email, read from its plain-text part."""
    part = message.get_body(("plain",))
    assert part is not None
    found = _LINK.search(part.get_content())
    assert found, part.get_content()
    return found.group(1), found.group(3)


def parse(raw: str | bytes) -> EmailMessage:
    data = raw.encode() if isinstance(raw, str) else raw
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def outbox(db: asyncpg.Connection, kind: str | None = None) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        """SELECT * FROM email_outbox WHERE $1::text IS NULL OR kind = $1
           ORDER BY created_at""",
        kind,
    )
    return rows


async def token_of(db: asyncpg.Connection, kind: str, user_email: str | None = None) -> str:
    """The token of the newest email of this kind in the outbox (to this address if given)."""
    for row in reversed(await outbox(db, kind)):
        if user_email is None or row["recipient"] == user_email:
            return link_in(parse(row["message"]))[1]
    raise AssertionError(f"no {kind} email in the outbox")
