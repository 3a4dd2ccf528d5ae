"""Password-guessing routes answer 429 `rate_limited` once a window's budget is spent."""

from __future__ import annotations

from typing import Any

from services.api.app import create_app
from services.api.rate_limit import LOGIN_PER_EMAIL, SIGNUP_PER_ADDRESS
from tests.conftest import Api, assert_error, make_settings


async def test_login_guesses_on_one_account_are_limited(api: Api) -> None:
    user = await api.signup()
    wrong = {"email": user.email, "password": "wrong horse"}
    for _ in range(LOGIN_PER_EMAIL.max_requests):
        await api.call("POST", "/auth/login", expect=401, json=wrong)
    resp = await api.client.post("/auth/login", json=wrong)
    assert resp.status == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= LOGIN_PER_EMAIL.window_s + 1
    assert_error(await resp.json(), "rate_limited")
    # Even the right password waits: the limit is on guessing, not on failing.
    right = {"email": user.email.upper(), "password": "correct horse"}
    await api.call("POST", "/auth/login", expect=429, json=right)
    # Another account is not affected.
    other = await api.signup()
    await api.call(
        "POST", "/auth/login", expect=200, json={"email": other.email, "password": "correct horse"}
    )


async def test_signups_from_one_address_are_limited(api: Api, db: Any) -> None:
    for _ in range(SIGNUP_PER_ADDRESS.max_requests):
        await api.signup()
    body = await api.call(
        "POST",
        "/auth/signup",
        expect=429,
        json={"email": "late@example.com", "password": "12345678", "nickname": "late"},
    )
    assert_error(body, "rate_limited")
    assert await db.fetchval("SELECT count(*) FROM users WHERE email = 'late@example.com'") == 0


async def test_limiter_lets_requests_through_when_redis_is_down(
    database_url: str, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(make_settings(database_url, "redis://127.0.0.1:1/0")))
    api = Api(client)
    await api.signup()
