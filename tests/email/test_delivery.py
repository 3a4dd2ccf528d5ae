"""The push worker delivers the email outbox (CONTRACT section 3, Email) to a real SMTP server
(aiosmtpd in this process): once, across a restart; again after a 4xx, a dropped connection or
a server that is down; never after a 5xx, which sets the email aside; and, without SMTP_URL,
as .eml files under MAIL_DIR."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from services.api.push_worker.dead_letters import format_dead_emails, list_dead_emails
from shared.settings import Settings
from tests.email.conftest import (
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpServer,
    free_port,
    link_in,
    outbox,
    parse,
)
from tests.push.conftest import eventually, running_worker
from tests.support import Api, sample_value, scrape


async def _state(db: asyncpg.Connection, email_id: uuid.UUID) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT state, attempts, message, last_error FROM email_outbox WHERE id = $1", email_id
    )
    assert row is not None
    return row


def _in_state(db: asyncpg.Connection, email_id: uuid.UUID, state: str) -> Callable[..., object]:
    async def check() -> bool:
        return bool((await _state(db, email_id))["state"] == state)

    return check


async def test_an_email_goes_out_once_in_text_and_html_and_not_again_after_a_restart(
    api: Api,
    db: asyncpg.Connection,
    smtp_server: SmtpServer,
    email_settings_for: Callable[..., Settings],
) -> None:
    settings = email_settings_for(smtp_url=smtp_server.url())
    first = await api.signup()
    [row] = await outbox(db)
    async with running_worker(settings):
        await eventually(lambda: smtp_server.inbox.count() == 1, what="the first email")
        await eventually(_in_state(db, row["id"], "sent"))
    [message] = smtp_server.inbox.received
    assert smtp_server.inbox.recipients == [[first.email]]
    assert message["Message-ID"] == f"<{row['id']}@withbowwow.app>"
    assert message.get_body(("html",)) is not None
    assert link_in(message)[0].startswith("http://127.0.0.1:8000/account/verify?token=")
    sent = await _state(db, row["id"])
    assert (sent["attempts"], sent["message"]) == (1, None)  # the link is not kept

    second = await api.signup()
    async with running_worker(settings):  # a restart: only the new email goes
        await eventually(lambda: smtp_server.inbox.count() == 2, what="the second email")
        await eventually(lambda: _all_settled(db))
    assert smtp_server.inbox.recipients == [[first.email], [second.email]]


async def _all_settled(db: asyncpg.Connection) -> bool:
    return not await db.fetchval("SELECT count(*) FROM email_outbox WHERE state = 'pending'")


@pytest.mark.parametrize("failure", ["451 4.3.0 Try again later", "drop"])
async def test_a_4xx_or_a_dropped_connection_is_tried_again_until_it_goes(
    api: Api,
    db: asyncpg.Connection,
    smtp_server: SmtpServer,
    email_settings_for: Callable[..., Settings],
    failure: str,
) -> None:
    settings = email_settings_for(smtp_url=smtp_server.url())
    smtp_server.inbox.answers = [failure, failure]
    user = await api.signup()
    [row] = await outbox(db)
    async with running_worker(settings) as worker:
        await eventually(_in_state(db, row["id"], "sent"))
        metrics = await scrape(worker.metrics.port)
    assert smtp_server.inbox.recipients == [[user.email]]
    assert (await _state(db, row["id"]))["attempts"] == 3
    sends = metrics["withbowwow_email_sends"]
    label = "temporary" if failure != "drop" else "network"
    assert sample_value(sends, "withbowwow_email_sends_total", result=label) == 2
    assert sample_value(sends, "withbowwow_email_sends_total", result="ok") == 1


async def test_a_5xx_sets_the_email_aside_where_an_operator_sees_it(
    api: Api,
    db: asyncpg.Connection,
    smtp_server: SmtpServer,
    email_settings_for: Callable[..., Settings],
) -> None:
    settings = email_settings_for(smtp_url=smtp_server.url())
    user = await api.signup()
    smtp_server.inbox.answers = [f"550 5.1.1 <{user.email}>: Recipient address rejected"]
    [row] = await outbox(db)
    async with running_worker(settings) as worker:
        await eventually(_in_state(db, row["id"], "dead"))
        metrics = await scrape(worker.metrics.port)
    dead = await _state(db, row["id"])
    assert (dead["attempts"], dead["message"], dead["last_error"]) == (1, None, "refused: SMTP 550")
    assert smtp_server.inbox.received == []
    assert (
        sample_value(
            metrics["withbowwow_email_dead_letters"], "withbowwow_email_dead_letters_total"
        )
        == 1
    )
    listing = format_dead_emails(await list_dead_emails(db, 10))
    assert str(row["id"]) in listing and user.id in listing and user.email not in listing


async def test_nothing_is_lost_while_smtp_is_down(
    api: Api, db: asyncpg.Connection, email_settings_for: Callable[..., Settings]
) -> None:
    server = SmtpServer(free_port())  # not started yet: nothing listens there
    settings = email_settings_for(smtp_url=server.url())
    user = await api.signup()
    [row] = await outbox(db)
    try:
        async with running_worker(settings) as worker:

            async def failed_twice() -> bool:
                return int((await _state(db, row["id"]))["attempts"]) >= 2

            await eventually(failed_twice, what="two attempts while the server is down")
            waiting = await _state(db, row["id"])
            assert waiting["state"] == "pending" and waiting["message"] is not None
            assert waiting["last_error"].startswith("network: connect")
            metrics = await scrape(worker.metrics.port)
            pending = metrics["withbowwow_email_pending"]
            assert sample_value(pending, "withbowwow_email_pending") == 1
            server.start()
            await eventually(_in_state(db, row["id"], "sent"))
    finally:
        server.stop()
    assert server.inbox.recipients == [[user.email]]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_credentials_from_the_url_log_in(
    api: Api, db: asyncpg.Connection, email_settings_for: Callable[..., Settings]
) -> None:
    server = SmtpServer(free_port(), auth=True)
    server.start()
    try:
        user = await api.signup()
        [row] = await outbox(db)
        wrong = email_settings_for(smtp_url=server.url(SMTP_USER, "not it"))
        async with running_worker(wrong):

            async def refused() -> bool:
                return int((await _state(db, row["id"]))["attempts"]) >= 2

            await eventually(refused, what="login refused, the email kept")
        assert (await _state(db, row["id"]))["state"] == "pending"
        password = SMTP_PASSWORD.replace(" ", "%20")
        right = email_settings_for(smtp_url=server.url(SMTP_USER, password))
        async with running_worker(right):
            await eventually(_in_state(db, row["id"], "sent"))
    finally:
        server.stop()
    assert server.inbox.recipients == [[user.email]]


async def test_an_email_whose_link_expired_unsent_is_set_aside(
    api: Api,
    db: asyncpg.Connection,
    smtp_server: SmtpServer,
    email_settings_for: Callable[..., Settings],
) -> None:
    await api.signup()
    [row] = await outbox(db)
    await db.execute("UPDATE email_outbox SET expires_at = now() - interval '1 second'")
    async with running_worker(email_settings_for(smtp_url=smtp_server.url())):
        await eventually(_in_state(db, row["id"], "dead"))
    assert smtp_server.inbox.received == []


async def test_an_email_to_an_account_deleted_before_it_went_is_not_sent(
    api: Api,
    db: asyncpg.Connection,
    smtp_server: SmtpServer,
    email_settings_for: Callable[..., Settings],
) -> None:
    user = await api.signup()
    await api.call("DELETE", "/me", user, json={"password": "correct horse"}, expect=204)
    assert await outbox(db) == []  # the account's emails went with it
    second = await api.signup()
    async with running_worker(email_settings_for(smtp_url=smtp_server.url())):
        await eventually(lambda: _all_settled(db))
    assert smtp_server.inbox.recipients == [[second.email]]


async def test_without_smtp_url_each_email_is_an_eml_file_and_the_log_says_where_once(
    api: Api,
    db: asyncpg.Connection,
    email_settings_for: Callable[..., Settings],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = email_settings_for(mail_dir=str(tmp_path / "mail"))
    first, second = await api.signup(), await api.signup()
    with caplog.at_level(logging.INFO):
        async with running_worker(settings):
            await eventually(lambda: len(list((tmp_path / "mail").glob("*.eml"))) == 2)
    files = sorted((tmp_path / "mail").glob("*.eml"))
    messages = [parse(path.read_bytes()) for path in files]
    assert sorted(m["To"] for m in messages) == sorted([first.email, second.email])
    assert all(link_in(m)[0].startswith("http://127.0.0.1:8000/account/verify") for m in messages)
    where = [r.getMessage() for r in caplog.records if "SMTP_URL not set" in r.getMessage()]
    assert len(where) == 1 and str(tmp_path / "mail") in where[0]
    for record in caplog.records:
        assert "@" not in record.getMessage() and "token=" not in record.getMessage()


async def test_a_crashed_workers_email_goes_once_its_lease_has_ended(
    api: Api,
    db: asyncpg.Connection,
    smtp_server: SmtpServer,
    email_settings_for: Callable[..., Settings],
) -> None:
    user = await api.signup()
    [row] = await outbox(db)
    # Claimed by a worker that died: its lease has run out, its claim is still written.
    await db.execute(
        """UPDATE email_outbox SET claim = gen_random_uuid(), attempts = 1,
                  lease_until = now() - interval '1 second'"""
    )
    async with running_worker(email_settings_for(smtp_url=smtp_server.url())):
        await eventually(_in_state(db, row["id"], "sent"))
    assert smtp_server.inbox.recipients == [[user.email]]
    assert (await _state(db, row["id"]))["attempts"] == 2
