"""Sessions (CONTRACT section 3, Sessions): what ends one, and that its tokens stop working."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient

from services.api.accounts.sessions import forget_old_sessions
from services.api.app import create_app
from shared.keys import db_pool_key
from shared.settings import Settings
from shared.tokens import issue_token
from tests.api.walk_support import walk_payload
from tests.realtime.conftest import eventually
from tests.support import Api, User, assert_error

PASSWORD = "correct horse"


def claims(token: str, settings: Settings) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, settings.jwt_key, algorithms=["HS256"])
    return decoded


async def login(api: Api, user: User, expect: int = 200, password: str = PASSWORD) -> Any:
    return await api.call(
        "POST", "/auth/login", expect=expect, json={"email": user.email, "password": password}
    )


async def refreshed(api: Api, refresh_token: str, expect: int = 200) -> Any:
    return await api.call(
        "POST", "/auth/refresh", expect=expect, json={"refresh_token": refresh_token}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def status_of_me(client: TestClient, access_token: str) -> int:
    resp = await client.get("/me", headers=bearer(access_token))
    return resp.status


async def test_every_token_is_distinct_even_within_one_second(api: Api, settings: Settings) -> None:
    user = await api.signup()
    pairs = [await login(api, user) for _ in range(3)]
    tokens = [p[kind] for p in pairs for kind in ("access_token", "refresh_token")]
    assert len(set(tokens)) == len(tokens)
    decoded = [claims(t, settings) for t in tokens]
    assert len({c["jti"] for c in decoded}) == len(tokens)
    # Each login is its own session, shared by its access and refresh token.
    sessions = [claims(p["access_token"], settings)["sid"] for p in pairs]
    assert len(set(sessions)) == 3
    assert [claims(p["refresh_token"], settings)["sid"] for p in pairs] == sessions


async def test_refresh_continues_the_session(api: Api, settings: Settings) -> None:
    user = await api.signup()
    pair = await refreshed(api, user.refresh_token)
    assert claims(pair["access_token"], settings)["sid"] == claims(user.token, settings)["sid"]
    assert pair["user"]["id"] == user.id
    await api.call("GET", "/me", expect=200, headers=bearer(pair["access_token"]))
    await api.call("GET", "/me", expect=200, headers=bearer(user.token))  # not ended


async def test_refresh_reuse_ends_the_session_and_the_thiefs_newer_pair(api: Api, db: Any) -> None:
    owner = await api.signup()
    elsewhere = await login(api, owner)  # another session of the same person
    thief = await refreshed(api, owner.refresh_token)  # the thief refreshed first
    replay = await refreshed(api, owner.refresh_token, expect=401)  # the owner, later
    assert_error(replay, "unauthorized")
    for access in (thief["access_token"], owner.token):
        await api.call("GET", "/me", expect=401, headers=bearer(access))
    await refreshed(api, thief["refresh_token"], expect=401)
    # Only that session ended.
    await api.call("GET", "/me", expect=200, headers=bearer(elsewhere["access_token"]))
    await refreshed(api, elsewhere["refresh_token"])
    assert await db.fetchval("SELECT count(*) FROM sessions") == 1


async def test_logout_ends_that_session_only(api: Api) -> None:
    user = await api.signup()
    other = await login(api, user)
    resp = await api.client.post("/auth/logout", json={"refresh_token": user.refresh_token})
    assert resp.status == 204
    await api.call("GET", "/me", expect=401, headers=bearer(user.token))
    await refreshed(api, user.refresh_token, expect=401)
    await api.call("GET", "/me", expect=200, headers=bearer(other["access_token"]))
    # Again, or with anything that is not a refresh token of ours: still 204, nothing else ends.
    for token in (user.refresh_token, "junk", other["access_token"]):
        resp = await api.client.post("/auth/logout", json={"refresh_token": token})
        assert resp.status == 204
    await api.call("GET", "/me", expect=200, headers=bearer(other["access_token"]))


async def test_logout_with_a_used_refresh_token_ends_the_session(api: Api) -> None:
    user = await api.signup()
    newer = await refreshed(api, user.refresh_token)
    await api.call("POST", "/auth/logout", expect=204, json={"refresh_token": user.refresh_token})
    await api.call("GET", "/me", expect=401, headers=bearer(newer["access_token"]))
    await refreshed(api, newer["refresh_token"], expect=401)


async def test_logout_with_an_expired_refresh_token_ends_the_session(
    api: Api, settings: Settings
) -> None:
    user = await api.signup()
    sid = uuid.UUID(claims(user.token, settings)["sid"])
    expired, _ = issue_token(settings.jwt_key, uuid.UUID(user.id), "refresh", -60, session_id=sid)
    await api.call("POST", "/auth/logout", expect=204, json={"refresh_token": expired})
    await api.call("GET", "/me", expect=401, headers=bearer(user.token))


async def test_logout_needs_a_refresh_token_field(api: Api) -> None:
    body = await api.call("POST", "/auth/logout", expect=422, json={})
    assert_error(body, "validation_error")


async def test_logout_all_ends_every_session_of_the_caller(api: Api) -> None:
    user = await api.signup()
    other = await login(api, user)
    stranger = await api.signup()
    await api.call("POST", "/auth/logout-all", expect=401)
    await api.call("POST", "/auth/logout-all", user, expect=204)
    for access in (user.token, other["access_token"]):
        await api.call("GET", "/me", expect=401, headers=bearer(access))
    for refresh in (user.refresh_token, other["refresh_token"]):
        await refreshed(api, refresh, expect=401)
    await api.call("GET", "/me", stranger, expect=200)
    await login(api, user)  # signing in again starts a new session


async def test_password_change_starts_a_session_and_ends_every_other(api: Api) -> None:
    user = await api.signup()
    other = await login(api, user)
    pair = await api.call(
        "POST",
        "/me/password",
        user,
        expect=200,
        json={"current_password": PASSWORD, "new_password": "battery staple"},
    )
    assert pair["token_type"] == "bearer" and pair["user"]["id"] == user.id
    await api.call("GET", "/me", expect=200, headers=bearer(pair["access_token"]))
    await refreshed(api, pair["refresh_token"])
    for access in (user.token, other["access_token"]):
        await api.call("GET", "/me", expect=401, headers=bearer(access))
    for refresh in (user.refresh_token, other["refresh_token"]):
        await refreshed(api, refresh, expect=401)
    await login(api, user, expect=401)
    await login(api, user, password="battery staple")


async def test_password_change_refusals_change_nothing(api: Api) -> None:
    user = await api.signup()
    wrong = await api.call(
        "POST",
        "/me/password",
        user,
        expect=403,
        json={"current_password": "not my password", "new_password": "battery staple"},
    )
    assert_error(wrong, "forbidden")
    short = await api.call(
        "POST",
        "/me/password",
        user,
        expect=422,
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert {d["field"] for d in short["error"]["details"]} == {"new_password"}
    await api.call(
        "POST", "/me/password", expect=401, json={"current_password": PASSWORD, "new_password": "x"}
    )
    await api.call("GET", "/me", user, expect=200)
    await login(api, user)


async def sign_out_is_heard_by(api: Api, other_process: TestClient) -> None:
    """A sign-out through `api` ends the session in `other_process` too."""
    user = await api.signup()
    assert await status_of_me(other_process, user.token) == 200
    await api.call("POST", "/auth/logout", expect=204, json={"refresh_token": user.refresh_token})

    async def refused() -> bool:
        return await status_of_me(other_process, user.token) == 401

    await eventually(refused)


async def test_another_api_process_hears_of_it_over_redis(
    api: Api, settings: Settings, aiohttp_client: Any
) -> None:
    # It reads the database only when subscribing: what it learns later came over Redis.
    deaf_to_the_database = settings.model_copy(update={"session_sync_interval_s": 3600.0})
    await sign_out_is_heard_by(api, await aiohttp_client(create_app(deaf_to_the_database)))


async def test_a_process_cut_off_from_redis_reads_it_from_the_database(
    api: Api, settings: Settings, aiohttp_client: Any
) -> None:
    cut_off = settings.model_copy(
        update={"redis_url": "redis://127.0.0.1:1/0", "session_sync_interval_s": 0.05}
    )
    await sign_out_is_heard_by(api, await aiohttp_client(create_app(cut_off)))


async def test_an_ended_session_stays_ended_after_a_restart(
    settings: Settings, aiohttp_client: Any
) -> None:
    first = Api(await aiohttp_client(create_app(settings)))
    user = await first.signup()
    await first.call("POST", "/auth/logout-all", user, expect=204)
    restarted = await aiohttp_client(create_app(settings))
    assert await status_of_me(restarted, user.token) == 401


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/walks", walk_payload()),
        ("/me/dogs", {"name": "bori"}),
        ("/devices", {"token": "device-token-1", "platform": "android"}),
        ("/users/{other}/follow", None),
    ],
)
async def test_a_valid_token_of_a_deleted_account_is_401_not_500(
    api: Api, settings: Settings, path: str, payload: Any
) -> None:
    other = await api.signup()
    ghost = uuid.uuid4()  # signed by us, but no such user (any longer)
    token, _ = issue_token(settings.jwt_key, ghost, "access", 60, session_id=uuid.uuid4())
    resp = await api.client.post(path.format(other=other.id), json=payload, headers=bearer(token))
    assert resp.status == 401, await resp.text()
    assert_error(await resp.json(), "unauthorized")


async def test_expired_sessions_and_outlived_ends_are_forgotten(
    api: Api, db: Any, settings: Settings, api_client: TestClient
) -> None:
    live, expired = await api.signup(), await api.signup()
    await db.execute(
        "UPDATE sessions SET refresh_expires_at = now() - interval '1 second' WHERE user_id = $1",
        uuid.UUID(expired.id),
    )
    fresh_end, old_end = uuid.uuid4(), uuid.uuid4()
    await db.execute(
        "INSERT INTO ended_sessions (session_id, ended_at) VALUES ($1, now()), ($2, $3)",
        fresh_end,
        old_end,
        dt.datetime.now(dt.UTC) - dt.timedelta(seconds=settings.access_token_ttl_s + 3600),
    )
    await forget_old_sessions(api_client.app[db_pool_key], settings)
    assert [r["user_id"] for r in await db.fetch("SELECT user_id FROM sessions")] == [
        uuid.UUID(live.id)
    ]
    ended = {r["session_id"] for r in await db.fetch("SELECT session_id FROM ended_sessions")}
    assert fresh_end in ended and old_end not in ended


async def test_an_account_row_deleted_in_sql_ends_its_sessions_everywhere(
    api: Api, db: Any, settings: Settings, aiohttp_client: Any
) -> None:
    """However a session row goes (here with its user, by cascade), its end is recorded, and
    processes that were never told read it from the database."""
    never_told = await aiohttp_client(
        create_app(settings.model_copy(update={"session_sync_interval_s": 0.05}))
    )
    user = await api.signup()
    sid = uuid.UUID(claims(user.token, settings)["sid"])
    await db.execute("DELETE FROM users WHERE id = $1", uuid.UUID(user.id))
    assert await db.fetchval("SELECT count(*) FROM ended_sessions WHERE session_id = $1", sid)

    async def refused() -> bool:
        return await status_of_me(never_told, user.token) == 401

    await eventually(refused)
