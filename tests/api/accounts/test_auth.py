"""Sign-up, log-in and refresh tokens (CONTRACT section 3, Auth)."""

from __future__ import annotations

import datetime as dt
import uuid

import jwt

from shared.settings import Settings
from shared.tokens import issue_token
from tests.support import CONSENTS, Api, assert_error


async def test_signup_returns_user_and_token_pair(api: Api) -> None:
    body = await api.call(
        "POST",
        "/auth/signup",
        expect=201,
        json={
            "email": "Choco@Example.com",
            "password": "12345678",
            "nickname": "초코",
            "consents": CONSENTS,
        },
    )
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    assert body["user"]["nickname"] == "초코"
    assert body["user"]["email"] == "Choco@example.com"  # domain normalised by the validator
    uuid.UUID(body["user"]["id"])
    me = await api.call("GET", "/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me is None or me.get("id", body["user"]["id"]) == body["user"]["id"]


async def test_signup_rejects_short_password_and_bad_email(api: Api) -> None:
    body = await api.call(
        "POST",
        "/auth/signup",
        expect=422,
        json={"email": "nope", "password": "short", "nickname": "a", "consents": CONSENTS},
    )
    assert_error(body, "validation_error")
    fields = {d["field"] for d in body["error"]["details"]}
    assert {"email", "password"} <= fields


async def test_signup_duplicate_email_is_409_case_insensitively(api: Api) -> None:
    payload = {
        "email": "dup@example.com",
        "password": "12345678",
        "nickname": "a",
        "consents": CONSENTS,
    }
    await api.call("POST", "/auth/signup", expect=201, json=payload)
    payload["email"] = "DUP@example.com"
    assert_error(await api.call("POST", "/auth/signup", expect=409, json=payload), "conflict")


async def test_signup_malformed_json_is_400(api: Api) -> None:
    body = await api.call(
        "POST",
        "/auth/signup",
        expect=400,
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert_error(body, "invalid_json")


async def test_login_with_right_and_wrong_password(api: Api) -> None:
    user = await api.signup("bori")
    body = await api.call(
        "POST",
        "/auth/login",
        expect=200,
        json={"email": user.email.upper(), "password": "correct horse"},
    )
    assert body["user"]["id"] == user.id
    wrong = await api.call(
        "POST", "/auth/login", expect=401, json={"email": user.email, "password": "wrong horse"}
    )
    assert_error(wrong, "unauthorized")
    unknown = await api.call(
        "POST",
        "/auth/login",
        expect=401,
        json={"email": "nobody@example.com", "password": "whatever1"},
    )
    assert_error(unknown, "unauthorized")


async def test_refresh_token_works_once(api: Api) -> None:
    user = await api.signup()
    first = await api.call(
        "POST", "/auth/refresh", expect=200, json={"refresh_token": user.refresh_token}
    )
    assert first["access_token"] and first["refresh_token"] != user.refresh_token
    second = await api.call(
        "POST", "/auth/refresh", expect=200, json={"refresh_token": first["refresh_token"]}
    )
    again = await api.call(
        "POST", "/auth/refresh", expect=401, json={"refresh_token": first["refresh_token"]}
    )
    assert_error(again, "unauthorized")
    # The replay ended the session (tests/api/accounts/test_sessions.py): the newest pair too.
    await api.call(
        "POST", "/auth/refresh", expect=401, json={"refresh_token": second["refresh_token"]}
    )


async def test_refresh_token_is_not_an_access_token(api: Api) -> None:
    user = await api.signup()
    body = await api.call(
        "GET", "/me", expect=401, headers={"Authorization": f"Bearer {user.refresh_token}"}
    )
    assert_error(body, "unauthorized")


async def test_access_token_is_not_a_refresh_token(api: Api) -> None:
    user = await api.signup()
    await api.call("POST", "/auth/refresh", expect=401, json={"refresh_token": user.token})


async def test_protected_route_needs_a_valid_token(api: Api, settings: Settings) -> None:
    assert_error(await api.call("GET", "/me", expect=401), "unauthorized")
    await api.call("GET", "/me", expect=401, headers={"Authorization": "Bearer garbage"})
    await api.call("GET", "/me", expect=401, headers={"Authorization": "Basic abc"})
    user = await api.signup()
    expired = jwt.encode(
        {"sub": user.id, "typ": "access", "exp": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)},
        settings.jwt_key,
        algorithm="HS256",
    )
    await api.call("GET", "/me", expect=401, headers={"Authorization": f"Bearer {expired}"})
    forged, _ = issue_token(
        "another-secret-another-secret-another",
        uuid.UUID(user.id),
        "access",
        60,
        session_id=uuid.uuid4(),
    )
    await api.call("GET", "/me", expect=401, headers={"Authorization": f"Bearer {forged}"})
    none_alg = jwt.encode(
        {"sub": user.id, "typ": "access", "exp": 9999999999}, None, algorithm="none"
    )
    await api.call("GET", "/me", expect=401, headers={"Authorization": f"Bearer {none_alg}"})


async def test_a_validly_signed_token_with_an_enormous_exp_is_401(
    api: Api, settings: Settings
) -> None:
    user = await api.signup()
    claims = {"sub": user.id, "sid": str(uuid.uuid4()), "jti": str(uuid.uuid4()), "typ": "access"}
    token = jwt.encode({**claims, "exp": 10**20}, settings.jwt_key, algorithm="HS256")
    body = await api.call("GET", "/me", expect=401, headers={"Authorization": f"Bearer {token}"})
    assert_error(body, "unauthorized")


async def test_unknown_route_is_404_in_contract_shape(api: Api) -> None:
    assert_error(await api.call("GET", "/no/such/route", expect=404), "not_found")


async def test_body_over_one_mebibyte_is_413(api: Api) -> None:
    big = b'{"email": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    body = await api.call(
        "POST", "/auth/login", expect=413, data=big, headers={"Content-Type": "application/json"}
    )
    assert_error(body, "too_large")


async def test_control_characters_are_422_not_500(api: Api) -> None:
    body = await api.call(
        "POST",
        "/auth/signup",
        expect=422,
        json={
            "email": "nul@example.com",
            "password": "12345678",
            "nickname": "a\u0000b",
            "consents": CONSENTS,
        },
    )
    assert [d["field"] for d in body["error"]["details"]] == ["nickname"]
    body = await api.call(
        "POST", "/auth/login", expect=422, json={"email": "a\u0000@example.com", "password": "x"}
    )
    assert_error(body, "validation_error")
