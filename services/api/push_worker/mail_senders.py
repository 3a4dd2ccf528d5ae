"""How the push worker hands an email over: to an SMTP server (`SMTP_URL`) with aiosmtplib, or,
without one, to an `.eml` file under `MAIL_DIR` for a developer to open.

`SMTP_URL` is `smtp://[user:pass@]host[:port]` (port 587 by default; STARTTLS whenever the
server offers it) or `smtps://[user:pass@]host[:port]` (implicit TLS, port 465 by default);
the user and password are URL-encoded. Certificates are verified against the system's CAs.

What comes back is a `Result`: sent, or failed `temporary` (an SMTP 4xx: try again later),
`permanent` (an SMTP 5xx to this message: set it aside) or `network` (no answer: the
connection failed or dropped; try again later). Its `detail` is the SMTP code alone, never
the server's text, which may quote the address.
"""

from __future__ import annotations

import asyncio
import email.utils
import enum
import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib


class Failure(enum.Enum):
    TEMPORARY = "temporary"
    PERMANENT = "permanent"
    NETWORK = "network"


@dataclass(frozen=True, slots=True)
class Result:
    failure: Failure | None  # None: handed over
    detail: str = ""

    @property
    def label(self) -> str:
        """The `result` label of `withbowwow_email_sends_total`."""
        return "ok" if self.failure is None else self.failure.value


SENT = Result(None)


@dataclass(frozen=True, slots=True)
class Outgoing:
    recipient: str
    message: str  # RFC 5322, ASCII
    name: str  # for a file: unique, no address in it


class Connection(Protocol):
    async def send(self, outgoing: Outgoing) -> Result: ...


class MailSender(Protocol):
    def describe(self) -> str: ...

    def session(self) -> AbstractAsyncContextManager[Connection]:
        """One connection for a batch; raises ConnectFailed when none can be had."""
        ...


class ConnectFailed(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(result.detail)
        self.result = result


class SmtpUrlError(ValueError):
    """SMTP_URL cannot be used (the message never repeats the password)."""


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SmtpUrlError("SMTP_URL must look like smtp://user:pass@host:587 or smtps://...")
        try:
            port = parts.port
        except ValueError:
            raise SmtpUrlError("SMTP_URL has a port that is not a number") from None
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit else 587),
            implicit_tls=implicit,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def _classify(exc: BaseException) -> Result:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPResponseException) and 400 <= exc.code < 600:
        kind = Failure.PERMANENT if exc.code >= 500 else Failure.TEMPORARY
        return Result(kind, f"SMTP {exc.code}")
    return Result(Failure.NETWORK, type(exc).__name__)


class _SmtpConnection:
    def __init__(self, client: aiosmtplib.SMTP, sender: str) -> None:
        self._client = client
        self._sender = sender
        self.broken = False

    async def send(self, outgoing: Outgoing) -> Result:
        if self.broken:
            return Result(Failure.NETWORK, "connection lost")
        try:
            await self._client.sendmail(self._sender, [outgoing.recipient], outgoing.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            result = _classify(exc)
            if result.failure is Failure.NETWORK or not self._client.is_connected:
                self.broken = True
            else:
                # The transaction failed but the connection lives: clear it for the next one.
                try:
                    await self._client.rset()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    self.broken = True
            return result
        return SENT


class SmtpSender:
    def __init__(self, url: str, mail_from: str, timeout_s: float) -> None:
        self._server = SmtpServer.from_url(url)
        self._from = email.utils.parseaddr(mail_from)[1] or mail_from
        self._timeout_s = timeout_s

    def describe(self) -> str:
        server = self._server
        tls = "implicit TLS" if server.implicit_tls else "STARTTLS when offered"
        auth = "with a login" if server.username else "without a login"
        return f"SMTP server {server.host}:{server.port} ({tls}, {auth})"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Connection]:
        server = self._server
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.implicit_tls,
            start_tls=False if server.implicit_tls else None,
            timeout=self._timeout_s,
        )
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Whatever the server said at connect, EHLO, STARTTLS or AUTH, it is not this
            # message's fault: all of them wait and try again.
            detail = f"connect: {_classify(exc).detail}"
            raise ConnectFailed(Result(Failure.NETWORK, detail)) from None
        connection = _SmtpConnection(client, self._from)
        try:
            yield connection
        finally:
            if client.is_connected:
                try:
                    if not connection.broken:
                        await client.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    pass
                client.close()


class _FileConnection:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def send(self, outgoing: Outgoing) -> Result:
        await asyncio.to_thread(self._write, outgoing)
        return SENT

    def _write(self, outgoing: Outgoing) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        path = self._directory / f"{outgoing.name}.eml"
        partial = path.with_suffix(".eml.partial")
        partial.write_text(outgoing.message, encoding="ascii", newline="")
        os.replace(partial, path)  # a reader never sees half an email


class FileSender:
    """Without SMTP_URL: each email becomes `<MAIL_DIR>/<time>-<kind>-<id>.eml`."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory).resolve()

    def describe(self) -> str:
        return f".eml files under {self.directory}"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Connection]:
        yield _FileConnection(self.directory)
