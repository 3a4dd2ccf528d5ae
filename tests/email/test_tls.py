"""SMTP over TLS (CONTRACT section 1, SMTP_URL): `smtp://` upgrades with STARTTLS when the server
offers it, `smtps://` speaks TLS from the first byte, and the server's certificate is checked
(here against a test CA named by SSL_CERT_FILE, as an operator would for a private relay)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.settings import Settings
from tests.email.conftest import Inbox, free_port, outbox
from tests.push.conftest import eventually, running_worker
from tests.support import Api


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


class _TlsCheck(Inbox):
    """An inbox that also notes whether each message came over TLS."""

    def __init__(self) -> None:
        super().__init__()
        self.over_tls: list[bool] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.over_tls.append(server.transport.get_extra_info("ssl_object") is not None)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
async def test_emails_go_over_tls_with_starttls_or_implicit_tls(
    api: Api,
    db: asyncpg.Connection,
    email_settings_for: Callable[..., Settings],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    scheme: str,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # the worker trusts the test CA
    inbox, port = _TlsCheck(), free_port()
    context = _server_context(certificate)
    tls = (
        {"tls_context": context, "require_starttls": True}
        if scheme == "smtp"
        else {"ssl_context": context}
    )
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **tls)
    controller.start()
    try:
        user = await api.signup()
        [row] = await outbox(db)
        settings = email_settings_for(smtp_url=f"{scheme}://127.0.0.1:{port}")
        async with running_worker(settings):
            await eventually(lambda: inbox.count() == 1, what="the email, over TLS")
    finally:
        controller.stop()
    assert inbox.recipients == [[user.email]] and inbox.over_tls == [True]
    assert await db.fetchval("SELECT state FROM email_outbox WHERE id = $1", row["id"]) == "sent"


async def test_a_server_whose_certificate_is_not_trusted_gets_nothing(
    api: Api,
    db: asyncpg.Connection,
    email_settings_for: Callable[..., Settings],
    certificate: tuple[Path, Path],
) -> None:
    inbox, port = _TlsCheck(), free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, ssl_context=_server_context(certificate)
    )
    controller.start()
    try:
        await api.signup()
        [row] = await outbox(db)
        async with running_worker(email_settings_for(smtp_url=f"smtps://127.0.0.1:{port}")):

            async def tried_twice() -> bool:
                attempts = await db.fetchval(
                    "SELECT attempts FROM email_outbox WHERE id = $1", row["id"]
                )
                return int(attempts) >= 2

            await eventually(tried_twice, what="two refused handshakes")
    finally:
        controller.stop()
    assert inbox.received == []
    state = await db.fetchrow("SELECT state, last_error FROM email_outbox WHERE id = $1", row["id"])
    assert state is not None and state["state"] == "pending"
    assert state["last_error"].startswith("network: connect")
