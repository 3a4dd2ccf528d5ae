"""Staff (CONTRACT section 6): roles only by command, TOTP sign-in, the console session, CSRF,
and the audit log."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.api.moderation.staff_support import (
    PASSWORD,
    audit_actions,
    grant,
    make_staff,
    sign_in,
    staff_call,
)
from tests.support import CONSENTS, Api, User, assert_error, make_settings


async def test_a_moderator_signs_in_with_password_and_totp(
    api: Api, database_url: str, db: asyncpg.Connection
) -> None:
    member = await make_staff(api, database_url)
    resp = await api.client.post(
        "/admin/api/session",
        json={"email": member.user.email, "password": PASSWORD, "totp": member.code()},
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert set(body) == {"csrf_token", "role", "expires_at"} and body["role"] == "moderator"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # PUBLIC_BASE_URL is http in the tests
    stored = await db.fetchval("SELECT encode(id_hash, 'hex') FROM staff_sessions")
    value = cookie.split(";")[0].split("=", 1)[1]
    assert value not in stored  # only its hash is kept
    assert await audit_actions(db) == ["grant", "sign_in"]


async def test_every_wrong_part_and_a_non_staff_user_get_one_401(
    api: Api, database_url: str
) -> None:
    member = await make_staff(api, database_url)
    ordinary = await api.signup()
    attempts = [
        {"email": member.user.email, "password": "wrong password", "totp": member.code()},
        {"email": member.user.email, "password": PASSWORD, "totp": "000000"},
        {"email": "nobody@example.com", "password": PASSWORD, "totp": member.code()},
        {"email": ordinary.email, "password": PASSWORD, "totp": member.code()},
    ]
    messages = set()
    for body in attempts:
        resp = await api.client.post("/admin/api/session", json=body)
        answer = await resp.json()
        assert resp.status == 401, answer
        assert_error(answer, "unauthorized")
        messages.add(answer["error"]["message"])
    assert len(messages) == 1


@pytest.mark.parametrize("missing", ["email", "password", "totp"])
async def test_a_missing_field_is_422(api: Api, missing: str) -> None:
    body = {"email": "a@example.com", "password": "x", "totp": "123456"}
    del body[missing]
    resp = await api.client.post("/admin/api/session", json=body)
    assert resp.status == 422
    assert_error(await resp.json(), "validation_error")


async def test_a_totp_code_works_once(api: Api, database_url: str) -> None:
    member = await make_staff(api, database_url)
    code = member.code()
    body = {"email": member.user.email, "password": PASSWORD, "totp": code}
    assert (await api.client.post("/admin/api/session", json=body)).status == 200
    assert (await api.client.post("/admin/api/session", json=body)).status == 401


async def test_an_app_token_never_opens_the_admin_api_whatever_its_role(
    api: Api, database_url: str
) -> None:
    member = await make_staff(api, database_url, "admin")
    for path in ("/admin/api/reports", "/admin/api/audit", f"/admin/api/users/{member.user.id}"):
        resp = await api.client.get(path, headers=member.user.headers)
        assert resp.status == 401
        assert_error(await resp.json(), "unauthorized")


async def test_writes_need_the_csrf_token_and_reads_the_cookie(api: Api, database_url: str) -> None:
    member = await make_staff(api, database_url)
    session = await sign_in(api, member)
    target = await api.signup()
    path = f"/admin/api/users/{target.id}/unsuspend"
    body = await staff_call(api, "POST", path, None, expect=403, json={})
    assert_error(body, "forbidden")
    await staff_call(api, "POST", path, "not-the-token", expect=403, json={})
    await staff_call(api, "POST", path, session["csrf_token"], expect=200, json={})
    api.client.session.cookie_jar.clear()
    await staff_call(api, "GET", "/admin/api/reports", None, expect=401)
    await staff_call(api, "POST", path, session["csrf_token"], expect=401, json={})


async def test_signing_out_ends_the_session(
    api: Api, database_url: str, db: asyncpg.Connection
) -> None:
    member = await make_staff(api, database_url)
    session = await sign_in(api, member)
    jar = list(api.client.session.cookie_jar)
    await staff_call(api, "DELETE", "/admin/api/session", session["csrf_token"], expect=204)
    api.client.session.cookie_jar.update_cookies({c.key: c.value for c in jar})
    await staff_call(api, "GET", "/admin/api/reports", None, expect=401)
    assert (await audit_actions(db))[-1] == "sign_out"


async def test_a_new_session_id_at_every_sign_in(api: Api, database_url: str) -> None:
    member = await make_staff(api, database_url)
    await sign_in(api, member)
    old = {c.key: c.value for c in api.client.session.cookie_jar}
    await sign_in(api, member)
    new = {c.key: c.value for c in api.client.session.cookie_jar}
    assert old != new
    api.client.session.cookie_jar.clear()
    api.client.session.cookie_jar.update_cookies(old)
    await staff_call(api, "GET", "/admin/api/reports", None, expect=401)


async def test_revoking_the_role_ends_the_session(
    api: Api, database_url: str, db: asyncpg.Connection
) -> None:
    import io

    from services.api import staff as staff_command

    member = await make_staff(api, database_url)
    await sign_in(api, member)
    await staff_call(api, "GET", "/admin/api/reports", None, expect=200)
    out = io.StringIO()
    assert await staff_command.run(["revoke", member.user.email], database_url, out) == 0
    await staff_call(api, "GET", "/admin/api/reports", None, expect=401)
    assert (await audit_actions(db))[-1] == "revoke"
    listing = io.StringIO()
    await staff_command.run(["list"], database_url, listing)
    assert member.user.email not in listing.getvalue()


async def test_an_idle_or_old_session_has_ended(
    api: Api, database_url: str, db: asyncpg.Connection
) -> None:
    member = await make_staff(api, database_url)
    await sign_in(api, member)
    await db.execute("UPDATE staff_sessions SET last_seen_at = now() - interval '31 minutes'")
    await staff_call(api, "GET", "/admin/api/reports", None, expect=401)
    await sign_in(api, member)
    await db.execute("UPDATE staff_sessions SET expires_at = now() - interval '1 second'")
    await staff_call(api, "GET", "/admin/api/reports", None, expect=401)


async def test_no_route_grants_a_role_over_http(api: Api) -> None:
    user = await api.signup()
    for method, path in (
        ("POST", "/admin/api/staff"),
        ("POST", f"/admin/api/users/{user.id}/role"),
    ):
        resp = await api.client.request(method, path, headers=user.headers, json={"role": "admin"})
        assert resp.status in (401, 404, 405)


async def test_the_audit_log_is_for_admins_and_append_only(
    api: Api, database_url: str, db: asyncpg.Connection
) -> None:
    moderator = await make_staff(api, database_url)
    await sign_in(api, moderator)
    body = await staff_call(api, "GET", "/admin/api/audit", None, expect=403)
    assert_error(body, "forbidden")
    admin = await make_staff(api, database_url, "admin")
    await sign_in(api, admin)
    page = await staff_call(api, "GET", "/admin/api/audit?limit=2", None, expect=200)
    assert [i["action"] for i in page["items"]] == ["sign_in", "grant"]
    assert page["items"][0]["staff"] == {"id": admin.user.id, "nickname": admin.user.nickname}
    assert set(page["items"][0]) == {"id", "staff", "action", "target", "note", "at"}
    older = await staff_call(
        api, "GET", f"/admin/api/audit?before={page['next_cursor']}", None, expect=200
    )
    assert [i["action"] for i in older["items"]] == ["sign_in", "grant"]
    with pytest.raises(asyncpg.RaiseError):
        await db.execute("UPDATE audit_log SET note = 'rewritten'")
    with pytest.raises(asyncpg.RaiseError):
        await db.execute("DELETE FROM audit_log")
    with pytest.raises(asyncpg.RaiseError):
        await db.execute("TRUNCATE audit_log")


async def test_failed_sign_ins_elsewhere_do_not_lock_the_moderator_out(
    aiohttp_client: Any, database_url: str, redis_url: str
) -> None:
    from services.api.app import create_app

    settings = make_settings(
        database_url,
        redis_url,
        trusted_proxies="127.0.0.1",
        login_failure_limit_per_account=4,
        login_failure_limit_per_address=4,
        login_failure_limit_per_account_address=2,
    )
    api = Api(await aiohttp_client(create_app(settings)))
    home = {"X-Forwarded-For": "198.51.100.7"}
    resp = await api.client.post(
        "/auth/signup",
        headers=home,
        json={
            "email": "mod@example.com",
            "password": PASSWORD,
            "nickname": "mod",
            "consents": CONSENTS,
        },
    )
    assert resp.status == 201
    body = await resp.json()
    user = User(
        body["user"]["id"], body["access_token"], body["refresh_token"], "mod", "mod@example.com"
    )
    member = await grant(database_url, user)
    refused = 0
    for i in range(12):
        resp = await api.client.post(
            "/admin/api/session",
            headers={"X-Forwarded-For": f"203.0.113.{i % 3}"},
            json={"email": user.email, "password": f"guess {i}", "totp": "123456"},
        )
        assert resp.status in (401, 429)
        refused += resp.status == 429
    assert refused > 0, "the guesses were limited"
    resp = await api.client.post(
        "/admin/api/session",
        headers=home,
        json={"email": user.email, "password": PASSWORD, "totp": member.code()},
    )
    assert resp.status == 200, await resp.text()


async def test_granting_a_role_to_an_unknown_email_fails(database_url: str) -> None:
    import io

    from services.api import staff as staff_command

    assert (
        await staff_command.run(
            ["grant", "nobody@example.com", "admin"], database_url, io.StringIO()
        )
        == 1
    )
    _ = grant  # the helper used above


async def test_every_staff_action_writes_its_audit_row(
    api: Api, database_url: str, db: asyncpg.Connection
) -> None:
    import io

    from services.api import staff as staff_command
    from tests.api.walk_support import post_walk

    author, reporter = await api.signup(), await api.signup()
    walk = await post_walk(api, author)
    report = await api.call(
        "POST",
        "/reports",
        reporter,
        expect=201,
        json={"target": {"type": "walk", "id": walk["id"]}, "reason": "spam"},
    )
    member = await make_staff(api, database_url, "admin")
    session = await sign_in(api, member)
    csrf = session["csrf_token"]
    await staff_call(
        api,
        "POST",
        f"/admin/api/reports/{report['id']}/resolve",
        csrf,
        expect=200,
        json={"action": "hide", "note": "spam link"},
    )
    await staff_call(api, "POST", f"/admin/api/content/walk/{walk['id']}/restore", csrf, expect=200)
    await staff_call(api, "POST", f"/admin/api/users/{author.id}/unsuspend", csrf, expect=200)
    await staff_call(api, "DELETE", "/admin/api/session", csrf, expect=204)
    assert await staff_command.run(["revoke", member.user.email], database_url, io.StringIO()) == 0
    rows = await db.fetch("SELECT staff_id, action, target, note FROM audit_log ORDER BY at, id")
    assert [r["action"] for r in rows] == [
        "grant",
        "sign_in",
        "resolve",
        "restore",
        "unsuspend",
        "sign_out",
        "revoke",
    ]
    resolve = rows[2]
    assert str(resolve["staff_id"]) == member.user.id and resolve["note"] == "spam link"
    assert resolve["target"]["action"] == "hide" and resolve["target"]["id"] == walk["id"]
