"""`/devices`: registering push tokens (CONTRACT section 3, Devices)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import asyncpg
import pytest

from tests.support import Api, assert_error

FCM_TOKEN = "dGVzdA:APA91bH-x_y-z0123456789_abcdefghijklmnop-qrstuvwxyz"


async def owners(db: asyncpg.Connection) -> dict[str, uuid.UUID]:
    rows = await db.fetch("SELECT token, user_id FROM devices")
    return {r["token"]: r["user_id"] for r in rows}


async def test_register_new_token_is_201(api: Api, db: asyncpg.Connection) -> None:
    user = await api.signup()
    body = await api.call(
        "POST", "/devices", user, expect=201, json={"token": FCM_TOKEN, "platform": "android"}
    )
    assert set(body) == {"token", "platform", "created_at", "updated_at"}
    assert (body["token"], body["platform"]) == (FCM_TOKEN, "android")
    assert await owners(db) == {FCM_TOKEN: uuid.UUID(user.id)}


async def test_registering_again_is_200_and_updates_platform(api: Api) -> None:
    user = await api.signup()
    first = await api.call(
        "POST", "/devices", user, expect=201, json={"token": FCM_TOKEN, "platform": "android"}
    )
    again = await api.call(
        "POST", "/devices", user, expect=200, json={"token": FCM_TOKEN, "platform": "web"}
    )
    assert again["platform"] == "web"
    assert again["created_at"] == first["created_at"]
    assert again["updated_at"] > first["updated_at"]


async def test_token_moves_to_the_last_user_who_registers_it(
    api: Api, db: asyncpg.Connection
) -> None:
    old, new = await api.signup(), await api.signup()
    payload = {"token": FCM_TOKEN, "platform": "ios"}
    await api.call("POST", "/devices", old, expect=201, json=payload)
    await api.call("POST", "/devices", new, expect=200, json=payload)
    assert await owners(db) == {FCM_TOKEN: uuid.UUID(new.id)}
    # The previous owner can no longer remove it.
    await api.call("DELETE", f"/devices/{FCM_TOKEN}", old, expect=404)
    assert await owners(db) == {FCM_TOKEN: uuid.UUID(new.id)}


async def test_a_user_may_have_several_devices(api: Api, db: asyncpg.Connection) -> None:
    user = await api.signup()
    for token, platform in (("tok-a", "android"), ("tok-b", "ios"), ("tok-c", "web")):
        await api.call(
            "POST", "/devices", user, expect=201, json={"token": token, "platform": platform}
        )
    assert set((await owners(db)).values()) == {uuid.UUID(user.id)}
    assert len(await owners(db)) == 3


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"platform": "ios"}, "token"),
        ({"token": "", "platform": "ios"}, "token"),
        ({"token": "x" * 4097, "platform": "ios"}, "token"),
        ({"token": "has space", "platform": "ios"}, "token"),
        ({"token": "nul\u0000", "platform": "ios"}, "token"),
        ({"token": "abc"}, "platform"),
        ({"token": "abc", "platform": "windows"}, "platform"),
        ({"token": "abc", "platform": "ios", "user_id": str(uuid.uuid4())}, "user_id"),
    ],
)
async def test_register_rejects_bad_fields(
    api: Api, db: asyncpg.Connection, payload: dict[str, Any], field: str
) -> None:
    user = await api.signup()
    body = await api.call("POST", "/devices", user, expect=422, json=payload)
    assert_error(body, "validation_error")
    assert field in {d["field"] for d in body["error"]["details"]}
    assert await owners(db) == {}


async def test_register_accepts_token_of_max_length(api: Api) -> None:
    user = await api.signup()
    token = "t" * 4096
    body = await api.call(
        "POST", "/devices", user, expect=201, json={"token": token, "platform": "web"}
    )
    assert body["token"] == token


async def test_register_malformed_json_is_400(api: Api) -> None:
    user = await api.signup()
    body = await api.call(
        "POST",
        "/devices",
        user,
        expect=400,
        data=b'{"token": "abc"',
        headers={"Content-Type": "application/json"},
    )
    assert_error(body, "invalid_json")


async def test_delete_own_token_is_204(api: Api, db: asyncpg.Connection) -> None:
    user = await api.signup()
    for token in (FCM_TOKEN, "other-token"):
        await api.call("POST", "/devices", user, json={"token": token, "platform": "android"})
    assert await api.call("DELETE", f"/devices/{FCM_TOKEN}", user, expect=204) is None
    assert set(await owners(db)) == {"other-token"}
    assert_error(await api.call("DELETE", f"/devices/{FCM_TOKEN}", user, expect=404), "not_found")


async def test_delete_token_with_slash_when_percent_encoded(
    api: Api, db: asyncpg.Connection
) -> None:
    user = await api.signup()
    token = "web/push:abc_DEF-1"
    await api.call("POST", "/devices", user, expect=201, json={"token": token, "platform": "web"})
    await api.call("DELETE", f"/devices/{quote(token, safe='')}", user, expect=204)
    assert await owners(db) == {}


async def test_delete_someone_elses_token_is_404_and_keeps_it(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, other = await api.signup(), await api.signup()
    await api.call("POST", "/devices", owner, json={"token": FCM_TOKEN, "platform": "ios"})
    assert_error(await api.call("DELETE", f"/devices/{FCM_TOKEN}", other, expect=404), "not_found")
    assert await owners(db) == {FCM_TOKEN: uuid.UUID(owner.id)}


@pytest.mark.parametrize("token", ["unknown-token", "%00", "a%20b", "x" * 5000])
async def test_delete_unknown_or_impossible_token_is_404(api: Api, token: str) -> None:
    user = await api.signup()
    assert_error(await api.call("DELETE", f"/devices/{token}", user, expect=404), "not_found")


async def test_device_routes_without_token_are_401(api: Api, db: asyncpg.Connection) -> None:
    user = await api.signup()
    await api.call("POST", "/devices", user, json={"token": FCM_TOKEN, "platform": "ios"})
    body = await api.call("POST", "/devices", expect=401, json={"token": "t", "platform": "ios"})
    assert_error(body, "unauthorized")
    assert_error(await api.call("DELETE", f"/devices/{FCM_TOKEN}", expect=401), "unauthorized")
    assert await owners(db) == {FCM_TOKEN: uuid.UUID(user.id)}
