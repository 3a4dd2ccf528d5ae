"""Password-guessing routes answer 429 `rate_limited` once a window's budget is spent."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.api.app import create_app
from services.api.web.rate_limit import LOGIN_PER_EMAIL, SIGNUP_PER_ADDRESS
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


async def _signups_until_limited(api: Api, forwarded_for: str) -> int:
    """How many sign-ups from `forwarded_for` get through before the first 429."""
    for n in range(SIGNUP_PER_ADDRESS.max_requests + 1):
        nickname = f"p{uuid.uuid4().hex[:10]}"
        resp = await api.client.post(
            "/auth/signup",
            headers={"X-Forwarded-For": forwarded_for},
            json={"email": f"{nickname}@example.com", "password": "12345678", "nickname": nickname},
        )
        if resp.status == 429:
            return n
        assert resp.status == 201
    return SIGNUP_PER_ADDRESS.max_requests + 1


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    database_url: str, redis_url: str, aiohttp_client: Any
) -> None:
    settings = make_settings(database_url, redis_url, trusted_proxies="10.0.0.0/8, 127.0.0.1")
    api = Api(await aiohttp_client(create_app(settings)))
    budget = SIGNUP_PER_ADDRESS.max_requests
    # The test client is 127.0.0.1, a trusted proxy; 10.1.2.3 is another one in front of it.
    assert await _signups_until_limited(api, "203.0.113.7, 10.1.2.3") == budget
    assert await _signups_until_limited(api, "198.51.100.9") == budget
    # A client cannot escape its limit by forging hops to the left of the real one.
    assert await _signups_until_limited(api, "192.0.2.1, 203.0.113.7") == 0


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(api: Api) -> None:
    budget = SIGNUP_PER_ADDRESS.max_requests
    assert await _signups_until_limited(api, "203.0.113.7") == budget
    assert await _signups_until_limited(api, "198.51.100.9") == 0


def test_trusted_proxies_are_read_as_networks(database_url: str, redis_url: str) -> None:
    settings = make_settings(database_url, redis_url, trusted_proxies="10.0.0.0/8,::1")
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(ValueError, match="trusted_proxies"):
        make_settings(database_url, redis_url, trusted_proxies="10.0.0.0/33")
