"""Limits on the account routes (CONTRACT section 3, Rate limits): failures count, keyed so that
nobody can lock someone else out; 429 `rate_limited` with `Retry-After` once a budget is spent."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from shared.settings import Settings
from tests.support import CONSENTS, Api, assert_error, make_settings

PASSWORD = "correct horse"
OWNER_ADDRESS = "198.51.100.1"


async def login_from(client: TestClient, email: str, password: str, address: str) -> int:
    resp = await client.post(
        "/auth/login",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": address},
    )
    return resp.status


async def signup_from(client: TestClient, address: str) -> tuple[int, str]:
    email = f"u{uuid.uuid4().hex[:10]}@example.com"
    resp = await client.post(
        "/auth/signup",
        json={"email": email, "password": PASSWORD, "nickname": "n", "consents": CONSENTS},
        headers={"X-Forwarded-For": address},
    )
    return resp.status, email


@pytest.fixture
async def behind_proxy(database_url: str, redis_url: str, aiohttp_client: Any) -> TestClient:
    """The API behind a trusted proxy (the test client's 127.0.0.1), with default limits."""
    settings = make_settings(database_url, redis_url, trusted_proxies="127.0.0.1")
    client: TestClient = await aiohttp_client(create_app(settings))
    return client


async def test_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(
    behind_proxy: TestClient,
) -> None:
    status, email = await signup_from(behind_proxy, OWNER_ADDRESS)
    assert status == 201
    budget = Settings.model_fields["login_failure_limit_per_account_address"].default
    # The attack of the issue: past the old 10-a-quarter limit per email, and renewed.
    for _ in range(budget):
        assert await login_from(behind_proxy, email, "wrong horse", "203.0.113.9") == 401
    for _ in range(3):
        assert await login_from(behind_proxy, email, "wrong horse", "203.0.113.9") == 429
    # Even the right password waits, from the guessing address: it is guessing that is limited.
    assert await login_from(behind_proxy, email, PASSWORD, "203.0.113.9") == 429
    assert await login_from(behind_proxy, email, PASSWORD, OWNER_ADDRESS) == 200
    # The owner's own mistakes spend only the owner's budget, and a success gives them back.
    assert await login_from(behind_proxy, email, "typo horse", OWNER_ADDRESS) == 401
    assert await login_from(behind_proxy, email, PASSWORD, OWNER_ADDRESS) == 200


async def test_the_issues_ten_wrong_passwords_no_longer_lock_the_owner_out(api: Api) -> None:
    """As the issue tried it: one address, TRUSTED_PROXIES unset, default limits."""
    user = await api.signup()
    wrong = {"email": user.email, "password": "wrong horse"}
    for _ in range(10):
        await api.call("POST", "/auth/login", expect=401, json=wrong)
    right = {"email": user.email, "password": PASSWORD}
    await api.call("POST", "/auth/login", expect=200, json=right)


async def test_the_per_account_ceiling_never_refuses_the_right_password_from_a_new_address(
    database_url: str, redis_url: str, aiohttp_client: Any
) -> None:
    """The issue's attack, scaled down: wrong passwords from each of several addresses reach the
    account's ceiling; the owner, on a new phone or a new carrier address, still gets in."""
    settings = make_settings(
        database_url,
        redis_url,
        trusted_proxies="127.0.0.1",
        login_failure_limit_per_account_address=2,
        login_failure_limit_per_account=4,
    )
    client = await aiohttp_client(create_app(settings))
    _, email = await signup_from(client, OWNER_ADDRESS)
    for n in range(2):  # a distributed attack: 2 guesses from each of 2 addresses
        for _ in range(2):
            assert await login_from(client, email, "wrong horse", f"203.0.113.{n}") == 401
    # The account's ceiling is reached: more guesses from new addresses are refused...
    assert await login_from(client, email, "wrong horse", "203.0.113.7") == 429
    assert await login_from(client, email, "other horse", "203.0.113.8") == 429
    # ...but the right password gets through from an address never seen before, and from the
    # address the owner signed up from.
    assert await login_from(client, email, PASSWORD, "192.0.2.50") == 200
    assert await login_from(client, email, PASSWORD, OWNER_ADDRESS) == 200
    # The guessing addresses stay slowed by their own budgets.
    assert await login_from(client, email, PASSWORD, "203.0.113.0") == 429


async def test_a_burst_of_wrong_logins_does_not_stop_others_at_that_address(
    database_url: str, redis_url: str, aiohttp_client: Any
) -> None:
    settings = make_settings(database_url, redis_url, login_failure_limit_per_address=5)
    api = Api(await aiohttp_client(create_app(settings)))
    neighbour = await api.signup()  # behind the same address (the test client's)
    for _ in range(5):
        junk = {"email": f"{uuid.uuid4().hex}@example.com", "password": "whatever1"}
        await api.call("POST", "/auth/login", expect=401, json=junk)
    junk = {"email": f"{uuid.uuid4().hex}@example.com", "password": "whatever1"}
    await api.call("POST", "/auth/login", expect=429, json=junk)
    right = {"email": neighbour.email, "password": PASSWORD}
    await api.call("POST", "/auth/login", expect=200, json=right)


async def test_successful_logins_do_not_count_and_forget_the_mistakes_before(
    database_url: str, redis_url: str, aiohttp_client: Any
) -> None:
    settings = make_settings(
        database_url,
        redis_url,
        login_failure_limit_per_account_address=3,
        login_failure_limit_per_account=100,
        login_failure_limit_per_address=100,
    )
    api = Api(await aiohttp_client(create_app(settings)))
    user = await api.signup()
    right = {"email": user.email, "password": PASSWORD}
    wrong = {"email": user.email, "password": "typo horse"}
    for _ in range(5):
        await api.call("POST", "/auth/login", expect=200, json=right)
    for _ in range(3):  # a typo or two, then the right one, again and again
        await api.call("POST", "/auth/login", expect=401, json=wrong)
        await api.call("POST", "/auth/login", expect=401, json=wrong)
        await api.call("POST", "/auth/login", expect=200, json=right)


async def test_guesses_are_refused_with_retry_after(
    database_url: str, redis_url: str, aiohttp_client: Any
) -> None:
    settings = make_settings(database_url, redis_url, login_failure_limit_per_account_address=2)
    api = Api(await aiohttp_client(create_app(settings)))
    user = await api.signup()
    wrong = {"email": user.email, "password": "wrong horse"}
    for _ in range(2):
        await api.call("POST", "/auth/login", expect=401, json=wrong)
    resp = await api.client.post("/auth/login", json=wrong)
    assert resp.status == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= settings.auth_failure_window_s + 1
    assert_error(await resp.json(), "rate_limited")
    other = await api.signup()
    await api.call(
        "POST", "/auth/login", expect=200, json={"email": other.email, "password": PASSWORD}
    )


async def test_junk_refresh_tokens_do_not_stop_valid_refreshes(
    database_url: str, redis_url: str, aiohttp_client: Any
) -> None:
    settings = make_settings(database_url, redis_url, refresh_failure_limit_per_address=5)
    api = Api(await aiohttp_client(create_app(settings)))
    user = await api.signup()
    for _ in range(5):
        await api.call("POST", "/auth/refresh", expect=401, json={"refresh_token": "junk"})
    body = await api.call("POST", "/auth/refresh", expect=429, json={"refresh_token": "junk"})
    assert_error(body, "rate_limited")
    await api.call("POST", "/auth/refresh", expect=200, json={"refresh_token": user.refresh_token})


async def test_junk_logouts_count_as_junk_refresh_tokens(
    database_url: str, redis_url: str, aiohttp_client: Any
) -> None:
    settings = make_settings(database_url, redis_url, refresh_failure_limit_per_address=3)
    api = Api(await aiohttp_client(create_app(settings)))
    user = await api.signup()
    for _ in range(3):
        await api.call("POST", "/auth/logout", expect=204, json={"refresh_token": "junk"})
    await api.call("POST", "/auth/logout", expect=429, json={"refresh_token": "junk"})
    await api.call("POST", "/auth/logout", expect=204, json={"refresh_token": user.refresh_token})
    await api.call("GET", "/me", user, expect=401)


async def test_wrong_current_passwords_are_limited_per_user(
    database_url: str, redis_url: str, aiohttp_client: Any
) -> None:
    settings = make_settings(database_url, redis_url, password_failure_limit_per_user=2)
    api = Api(await aiohttp_client(create_app(settings)))
    thief, other = await api.signup(), await api.signup()
    guess = {"current_password": "wrong horse", "new_password": "battery staple"}
    for _ in range(2):
        await api.call("POST", "/me/password", thief, expect=403, json=guess)
    await api.call("POST", "/me/password", thief, expect=429, json=guess)
    right = {"current_password": PASSWORD, "new_password": "battery staple"}
    await api.call("POST", "/me/password", other, expect=200, json=right)


async def test_signups_from_one_address_are_limited(
    database_url: str, redis_url: str, db: Any, aiohttp_client: Any
) -> None:
    settings = make_settings(database_url, redis_url, signup_limit_per_address=3)
    api = Api(await aiohttp_client(create_app(settings)))
    for _ in range(3):
        await api.signup()
    body = await api.call(
        "POST",
        "/auth/signup",
        expect=429,
        json={
            "email": "late@example.com",
            "password": "12345678",
            "nickname": "late",
            "consents": CONSENTS,
        },
    )
    assert_error(body, "rate_limited")
    assert await db.fetchval("SELECT count(*) FROM users WHERE email = 'late@example.com'") == 0


def test_default_limits_leave_room_for_a_carrier_nat() -> None:
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert defaults["signup_limit_per_address"] >= 200  # an hour
    assert defaults["login_failure_limit_per_address"] >= 500  # a quarter of an hour
    assert defaults["refresh_failure_limit_per_address"] >= 500
    ceiling = defaults["login_failure_limit_per_account"]
    assert ceiling >= 10 * defaults["login_failure_limit_per_account_address"]


async def test_limiter_lets_requests_through_when_redis_is_down(
    database_url: str, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(make_settings(database_url, "redis://127.0.0.1:1/0")))
    api = Api(client)
    user = await api.signup()
    await api.call(
        "POST", "/auth/login", expect=200, json={"email": user.email, "password": PASSWORD}
    )


async def _signups_until_limited(client: TestClient, forwarded_for: str, budget: int) -> int:
    """How many sign-ups from `forwarded_for` get through before the first 429."""
    for n in range(budget + 1):
        status, _ = await signup_from(client, forwarded_for)
        if status == 429:
            return n
        assert status == 201
    return budget + 1


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    database_url: str, redis_url: str, aiohttp_client: Any
) -> None:
    settings = make_settings(
        database_url, redis_url, trusted_proxies="10.0.0.0/8, 127.0.0.1", signup_limit_per_address=3
    )
    client = await aiohttp_client(create_app(settings))
    # The test client is 127.0.0.1, a trusted proxy; 10.1.2.3 is another one in front of it.
    assert await _signups_until_limited(client, "203.0.113.7, 10.1.2.3", 3) == 3
    assert await _signups_until_limited(client, "198.51.100.9", 3) == 3
    # A client cannot escape its limit by forging hops to the left of the real one.
    assert await _signups_until_limited(client, "192.0.2.1, 203.0.113.7", 3) == 0


async def test_forwarded_for_from_an_untrusted_peer_is_ignored_and_said_once(
    database_url: str, redis_url: str, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(database_url, redis_url, signup_limit_per_address=3)
    client = await aiohttp_client(create_app(settings))
    with caplog.at_level(logging.WARNING, logger="services.api.web.rate_limit"):
        assert await _signups_until_limited(client, "203.0.113.7", 3) == 3
        assert await _signups_until_limited(client, "198.51.100.9", 3) == 0
    warnings = [r.getMessage() for r in caplog.records if "X-Forwarded-For" in r.getMessage()]
    assert len(warnings) == 1 and "TRUSTED_PROXIES" in warnings[0], warnings


def test_trusted_proxies_are_read_as_networks(database_url: str, redis_url: str) -> None:
    settings = make_settings(database_url, redis_url, trusted_proxies="10.0.0.0/8,::1")
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(ValueError, match="trusted_proxies"):
        make_settings(database_url, redis_url, trusted_proxies="10.0.0.0/33")
