"""The emails' links through the API (CONTRACT section 3, Email): each email is an outbox row
written with what caused it; tokens work once, expire, are voided by newer ones and by a
password change, and are kept hashed; password reset and deletion requests say nothing about
whether an account exists; every limit answers 429."""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from tests.email.conftest import link_in, outbox, parse, token_of
from tests.push.conftest import eventually
from tests.support import CONSENTS, Api, User, assert_error, make_settings


async def _reset_emails(db: asyncpg.Connection, address: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM email_outbox WHERE kind = 'reset' AND recipient = $1", address
        )
    )


async def test_signup_writes_a_korean_verification_email_with_its_link_to_the_outbox(
    api: Api, db: asyncpg.Connection
) -> None:
    user = await api.signup()
    [row] = await outbox(db)
    assert (row["kind"], row["recipient"], row["state"]) == ("verify", user.email, "pending")
    assert row["message"].isascii()  # any SMTP server takes it, 8BITMIME or not
    message = parse(row["message"])
    assert message["To"] == user.email
    assert "이메일" in message["Subject"]
    assert message.get_body(("html",)) is not None
    link, token = link_in(message)
    assert link == f"http://127.0.0.1:8000/account/verify?token={token}"
    html = message.get_body(("html",))
    assert html is not None and link in html.get_content()
    stored = await db.fetchval("SELECT token_hash FROM account_tokens WHERE kind = 'verify'")
    assert stored == hashlib.sha256(token.encode()).digest()  # hashed at rest, never the token
    me = await api.call("GET", "/me", user, expect=200)
    assert me["email_verified"] is False


async def test_an_account_whose_browser_preferred_english_gets_english_emails(
    api: Api, db: asyncpg.Connection
) -> None:
    body = {
        "email": "english@example.com",
        "password": "correct horse",
        "nickname": "english",
        "consents": CONSENTS,
    }
    headers = {"Accept-Language": "en-GB,en;q=0.9,ko;q=0.5"}
    await api.call("POST", "/auth/signup", json=body, headers=headers, expect=201)
    await api.call(
        "POST", "/auth/password-reset", json={"email": "english@example.com"}, expect=202
    )
    await eventually(lambda: _reset_emails(db, "english@example.com"))
    rows = await outbox(db)
    assert {row["kind"] for row in rows} == {"verify", "reset"}
    for row in rows:
        message = parse(row["message"])
        assert message["Content-Language"] == "en"
        assert "withbowwow" in message["Subject"] and "이메일" not in message["Subject"]


async def test_the_verification_link_verifies_once(api: Api, db: asyncpg.Connection) -> None:
    user = await api.signup()
    token = await token_of(db, "verify")
    verified = await api.call("POST", "/auth/verify-email", json={"token": token}, expect=200)
    assert verified == {"email_verified": True}
    assert (await api.call("GET", "/me", user, expect=200))["email_verified"] is True
    again = await api.call("POST", "/auth/verify-email", json={"token": token}, expect=401)
    assert_error(again, "unauthorized")


async def test_a_new_verification_email_voids_the_last_link_and_five_an_hour_is_the_limit(
    api: Api, db: asyncpg.Connection
) -> None:
    user = await api.signup()
    first = await token_of(db, "verify")
    for _ in range(5):
        assert await api.call("POST", "/me/email-verification", user, expect=202) is None
    assert_error(await api.call("POST", "/me/email-verification", user, expect=429), "rate_limited")
    newest = await token_of(db, "verify")
    assert newest != first
    # The emails still waiting with a voided link are dropped: only the newest goes out.
    assert len(await outbox(db, "verify")) == 1
    await api.call("POST", "/auth/verify-email", json={"token": first}, expect=401)
    await api.call("POST", "/auth/verify-email", json={"token": newest}, expect=200)


async def test_unknown_and_known_emails_get_the_same_answer_to_a_reset_or_deletion_request(
    api: Api, db: asyncpg.Connection
) -> None:
    user = await api.signup()
    for path in ("/auth/password-reset", "/auth/delete-request"):
        answers = []
        for address in (user.email, "nobody-here@example.com"):
            resp = await api.client.post(path, json={"email": address})
            answers.append(
                (
                    resp.status,
                    await resp.read(),
                    sorted(h for h in resp.headers if h not in ("Date", "X-Request-ID")),
                )
            )
        assert answers[0] == answers[1] and answers[0][0] == 202 and answers[0][1] == b""
    rows = await eventually(
        lambda: _kinds(db), what="the reset and deletion emails of the known account"
    )
    assert rows == [("delete", user.email), ("reset", user.email), ("verify", user.email)]


async def _kinds(db: asyncpg.Connection) -> list[tuple[str, str]] | None:
    rows = await db.fetch("SELECT kind, recipient FROM email_outbox ORDER BY kind")
    found = [(row["kind"], row["recipient"]) for row in rows]
    return found if len(found) == 3 else None


async def test_a_reset_link_sets_the_password_starts_a_session_and_ends_every_other(
    api: Api, db: asyncpg.Connection
) -> None:
    user = await api.signup()
    other = await api.call(
        "POST", "/auth/login", json={"email": user.email, "password": "correct horse"}, expect=200
    )
    await api.call("POST", "/auth/password-reset", json={"email": user.email}, expect=202)
    await eventually(lambda: _reset_emails(db, user.email))
    token = await token_of(db, "reset")
    confirm = {"token": token, "new_password": "battery staple"}
    answer = await api.call("POST", "/auth/password-reset/confirm", json=confirm, expect=200)
    assert answer["user"]["id"] == user.id and answer["token_type"] == "bearer"
    assert answer["user"]["email_verified"] is True  # the link proved the address
    await api.call("GET", "/me", user, expect=401)
    refresh = {"refresh_token": other["refresh_token"]}
    await api.call("POST", "/auth/refresh", json=refresh, expect=401)
    fresh = User(user.id, answer["access_token"], answer["refresh_token"], user.nickname, "")
    await api.call("GET", "/me", fresh, expect=200)
    old_login = {"email": user.email, "password": "correct horse"}
    await api.call("POST", "/auth/login", json=old_login, expect=401)
    new_login = {"email": user.email, "password": "battery staple"}
    await api.call("POST", "/auth/login", json=new_login, expect=200)
    replay = await api.call("POST", "/auth/password-reset/confirm", json=confirm, expect=401)
    assert_error(replay, "unauthorized")


async def test_a_reset_link_does_not_let_a_suspended_account_back_in(
    api: Api, db: asyncpg.Connection
) -> None:
    """A reset starts a session as login does, so a suspension refuses it as it refuses login:
    403 account_suspended, and neither the password nor the link is used up."""
    user = await api.signup()
    await api.call("POST", "/auth/password-reset", json={"email": user.email}, expect=202)
    await eventually(lambda: _reset_emails(db, user.email))
    token = await token_of(db, "reset")
    await db.execute(
        "UPDATE users SET suspended_until = 'infinity' WHERE id = $1", uuid.UUID(user.id)
    )
    confirm = {"token": token, "new_password": "battery staple"}
    refused = await api.call("POST", "/auth/password-reset/confirm", json=confirm, expect=403)
    assert_error(refused, "account_suspended")
    await db.execute("UPDATE users SET suspended_until = NULL WHERE id = $1", uuid.UUID(user.id))
    old_login = {"email": user.email, "password": "correct horse"}
    await api.call("POST", "/auth/login", json=old_login, expect=200)
    await api.call("POST", "/auth/password-reset/confirm", json=confirm, expect=200)


async def test_a_password_change_voids_every_link_already_sent(
    api: Api, db: asyncpg.Connection
) -> None:
    user = await api.signup()
    verify = await token_of(db, "verify")
    await api.call("POST", "/auth/password-reset", json={"email": user.email}, expect=202)
    await eventually(lambda: _reset_emails(db, user.email))
    reset = await token_of(db, "reset")
    change = {"current_password": "correct horse", "new_password": "battery staple"}
    await api.call("POST", "/me/password", user, json=change, expect=200)
    confirm = {"token": reset, "new_password": "another one"}
    await api.call("POST", "/auth/password-reset/confirm", json=confirm, expect=401)
    await api.call("POST", "/auth/verify-email", json={"token": verify}, expect=401)


async def test_an_expired_link_is_refused(api: Api, db: asyncpg.Connection) -> None:
    await api.signup()
    token = await token_of(db, "verify")
    await db.execute("UPDATE account_tokens SET expires_at = now() - interval '1 second'")
    await api.call("POST", "/auth/verify-email", json={"token": token}, expect=401)


async def test_links_last_thirty_minutes_for_reset_and_deletion_and_a_week_for_verification(
    api: Api, db: asyncpg.Connection
) -> None:
    user = await api.signup()
    await api.call("POST", "/auth/password-reset", json={"email": user.email}, expect=202)
    await api.call("POST", "/auth/delete-request", json={"email": user.email}, expect=202)
    await eventually(lambda: _kinds(db))
    rows = await db.fetch(
        "SELECT kind, expires_at - created_at AS lifetime FROM account_tokens ORDER BY kind"
    )
    lifetimes = {row["kind"]: round(row["lifetime"].total_seconds()) for row in rows}
    assert lifetimes == {"delete": 1800, "reset": 1800, "verify": 7 * 24 * 3600}


@pytest.mark.parametrize(
    "token",
    ["", "not-a-token", "x" * 43, "a" * 129, "b" * 5000],
    ids=["empty", "junk", "guess", "long", "huge"],
)
async def test_a_token_that_is_not_ours_is_401(api: Api, token: str) -> None:
    for path, extra in [
        ("/auth/verify-email", {}),
        ("/auth/delete-confirm", {}),
        ("/auth/password-reset/confirm", {"new_password": "battery staple"}),
    ]:
        body = await api.call("POST", path, json={"token": token, **extra}, expect=401)
        assert_error(body, "unauthorized")


async def test_a_reset_link_cannot_verify_or_delete(api: Api, db: asyncpg.Connection) -> None:
    user = await api.signup()
    await api.call("POST", "/auth/password-reset", json={"email": user.email}, expect=202)
    await eventually(lambda: _reset_emails(db, user.email))
    token = await token_of(db, "reset")
    await api.call("POST", "/auth/delete-confirm", json={"token": token}, expect=401)
    await api.call("POST", "/auth/verify-email", json={"token": token}, expect=401)
    await api.call("GET", "/me", user, expect=200)


@pytest.mark.parametrize("path", ["/auth/password-reset", "/auth/delete-request"])
async def test_three_emails_an_hour_to_one_address_whether_or_not_it_has_an_account(
    api: Api, db: asyncpg.Connection, path: str
) -> None:
    user = await api.signup()
    for address in (user.email, "nobody-here@example.com"):
        for _ in range(3):
            await api.call("POST", path, json={"email": address}, expect=202)
        refused = await api.call("POST", path, json={"email": address.upper()}, expect=429)
        assert_error(refused, "rate_limited")


async def test_one_client_address_may_ask_password_reset_limit_per_address_times_an_hour(
    database_url: str, redis_url: str, aiohttp_client: Any
) -> None:
    settings = make_settings(database_url, redis_url, password_reset_limit_per_address=4)
    api = Api(await aiohttp_client(create_app(settings)))
    for n in range(4):
        await api.call(
            "POST", "/auth/password-reset", json={"email": f"{n}@example.com"}, expect=202
        )
    await api.call("POST", "/auth/password-reset", json={"email": "5@example.com"}, expect=429)
    await api.call("POST", "/auth/delete-request", json={"email": "5@example.com"}, expect=202)


async def test_a_deletion_link_erases_the_account_as_delete_me_does(
    api: Api, db: asyncpg.Connection
) -> None:
    user, friend = await api.signup(), await api.signup()
    await api.follow(friend, user)
    await api.call("POST", "/auth/delete-request", json={"email": user.email}, expect=202)
    await eventually(lambda: token_of_or_none(db, "delete"))
    token = await token_of(db, "delete")
    assert await api.call("POST", "/auth/delete-confirm", json={"token": token}, expect=204) is None
    await api.call("GET", f"/users/{user.id}", friend, expect=404)
    await api.call("GET", "/me", user, expect=401)
    assert await db.fetchval("SELECT count(*) FROM follows") == 0
    assert await db.fetchval("SELECT count(*) FROM email_outbox") == 1  # the friend's own
    await api.call("POST", "/auth/delete-confirm", json={"token": token}, expect=401)
    again = {"email": user.email, "password": "correct horse", "nickname": "again"}
    await api.call("POST", "/auth/signup", json={**again, "consents": CONSENTS}, expect=201)


async def token_of_or_none(db: asyncpg.Connection, kind: str) -> str | None:
    rows = await outbox(db, kind)
    return link_in(parse(rows[-1]["message"]))[1] if rows else None


async def test_no_log_line_holds_a_link_or_its_token(
    api: Api, db: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        user = await api.signup()
        await api.call("POST", "/auth/password-reset", json={"email": user.email}, expect=202)
        await eventually(lambda: _reset_emails(db, user.email))
        token = await token_of(db, "reset")
        await api.client.get(f"/account/reset?token={token}")
        confirm = {"token": token, "new_password": "battery staple"}
        await api.call("POST", "/auth/password-reset/confirm", json=confirm, expect=200)
    assert caplog.records, "the requests above were logged"
    for record in caplog.records:
        line = record.getMessage()
        assert token not in line and "token=" not in line and user.email not in line, line


async def test_a_stranger_cannot_reset_someone_elses_password_with_their_own_link(
    api: Api, db: asyncpg.Connection, api_client: TestClient
) -> None:
    victim, stranger = await api.signup(), await api.signup()
    await api.call("POST", "/auth/password-reset", json={"email": stranger.email}, expect=202)
    await eventually(lambda: _reset_emails(db, stranger.email))
    token = await token_of(db, "reset", stranger.email)
    confirm = {"token": token, "new_password": "battery staple"}
    answer = await api.call("POST", "/auth/password-reset/confirm", json=confirm, expect=200)
    assert answer["user"]["id"] == stranger.id
    login = {"email": victim.email, "password": "correct horse"}
    await api.call("POST", "/auth/login", json=login, expect=200)
    assert uuid.UUID(victim.id)


async def test_a_korean_sender_name_is_encoded_for_any_mail_server(
    database_url: str, redis_url: str, aiohttp_client: Any, db: asyncpg.Connection
) -> None:
    settings = make_settings(database_url, redis_url, mail_from="멍이랑 <hello@example.org>")
    api = Api(await aiohttp_client(create_app(settings)))
    await api.signup()
    [row] = await outbox(db)
    assert row["message"].isascii()
    message = parse(row["message"])
    assert message["From"].addresses[0].display_name == "멍이랑"
    assert message["From"].addresses[0].addr_spec == "hello@example.org"
    assert message["Message-ID"].endswith("@example.org>")
