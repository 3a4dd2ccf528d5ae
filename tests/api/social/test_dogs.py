"""`/me/dogs` and `/users/{id}/dogs` (CONTRACT section 3, Users and dogs)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import pytest

from tests.support import Api, User, assert_error


async def add_dog(api: Api, owner: User, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = await api.call("POST", "/me/dogs", owner, expect=201, json=fields)
    return body


async def test_add_dog_with_every_field(api: Api) -> None:
    owner = await api.signup()
    dog = await add_dog(api, owner, name="보리", breed="Jindo", birth_date="2021-03-04")
    uuid.UUID(dog["id"])
    assert dog["owner_id"] == owner.id
    assert (dog["name"], dog["breed"], dog["birth_date"]) == ("보리", "Jindo", "2021-03-04")
    assert dog["created_at"]
    assert set(dog) == {"id", "owner_id", "name", "breed", "birth_date", "created_at"}


async def test_add_dog_with_name_only(api: Api) -> None:
    owner = await api.signup()
    dog = await add_dog(api, owner, name="Choco")
    assert (dog["breed"], dog["birth_date"]) == (None, None)


async def test_birth_date_today_is_accepted(api: Api) -> None:
    owner = await api.signup()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert (await add_dog(api, owner, name="pup", birth_date=today))["birth_date"] == today


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 51}, "name"),
        ({"name": "a\u0000"}, "name"),
        ({"name": 7}, "name"),
        ({"name": "ok", "breed": "x" * 51}, "breed"),
        ({"name": "ok", "birth_date": "2020-13-01"}, "birth_date"),
        ({"name": "ok", "birth_date": "03/04/2021"}, "birth_date"),
        ({"name": "ok", "birth_date": 1600000000}, "birth_date"),
        ({"name": "ok", "birth_date": "2999-01-01"}, "birth_date"),
        ({"name": "ok", "weight": 3}, "weight"),
    ],
)
async def test_add_dog_rejects_bad_fields(
    api: Api, db: asyncpg.Connection, payload: dict[str, Any], field: str
) -> None:
    owner = await api.signup()
    body = await api.call("POST", "/me/dogs", owner, expect=422, json=payload)
    assert_error(body, "validation_error")
    assert field in {d["field"] for d in body["error"]["details"]}
    assert await db.fetchval("SELECT count(*) FROM dogs") == 0


async def test_birth_date_a_week_ahead_is_in_the_future(api: Api) -> None:
    owner = await api.signup()
    later = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=7)).isoformat()
    body = await api.call(
        "POST", "/me/dogs", owner, expect=422, json={"name": "x", "birth_date": later}
    )
    assert [d["field"] for d in body["error"]["details"]] == ["birth_date"]


async def test_add_dog_malformed_json_is_400(api: Api) -> None:
    owner = await api.signup()
    body = await api.call(
        "POST",
        "/me/dogs",
        owner,
        expect=400,
        data=b"{name: bori}",
        headers={"Content-Type": "application/json"},
    )
    assert_error(body, "invalid_json")


async def test_list_dogs_oldest_first(api: Api) -> None:
    owner, viewer = await api.signup(), await api.signup()
    dogs = [await add_dog(api, owner, name=f"dog{i}") for i in range(3)]
    await add_dog(api, viewer, name="not theirs")
    body = await api.call("GET", f"/users/{owner.id}/dogs", viewer, expect=200)
    assert body == {"items": dogs, "next_cursor": None}


async def test_list_dogs_paginates_one_at_a_time(api: Api) -> None:
    owner = await api.signup()
    dogs = [await add_dog(api, owner, name=f"dog{i}") for i in range(3)]
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params = {"limit": "1"} | ({"before": cursor} if cursor else {})
        body = await api.call("GET", f"/users/{owner.id}/dogs", owner, expect=200, params=params)
        assert len(body["items"]) <= 1
        seen += [d["id"] for d in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [d["id"] for d in dogs]


async def test_list_dogs_of_user_without_dogs_is_empty(api: Api) -> None:
    owner = await api.signup()
    body = await api.call("GET", f"/users/{owner.id}/dogs", owner, expect=200)
    assert body == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("user_id", [str(uuid.uuid4()), "not-a-uuid"])
async def test_list_dogs_of_unknown_user_is_404(api: Api, user_id: str) -> None:
    viewer = await api.signup()
    assert_error(await api.call("GET", f"/users/{user_id}/dogs", viewer, expect=404), "not_found")


async def test_list_dogs_bad_limit_is_422(api: Api) -> None:
    owner = await api.signup()
    body = await api.call("GET", f"/users/{owner.id}/dogs?limit=abc", owner, expect=422)
    assert [d["field"] for d in body["error"]["details"]] == ["limit"]


async def test_delete_own_dog(api: Api) -> None:
    owner = await api.signup()
    gone, kept = await add_dog(api, owner, name="a"), await add_dog(api, owner, name="b")
    assert await api.call("DELETE", f"/me/dogs/{gone['id']}", owner, expect=204) is None
    body = await api.call("GET", f"/users/{owner.id}/dogs", owner, expect=200)
    assert body["items"] == [kept]
    assert_error(await api.call("DELETE", f"/me/dogs/{gone['id']}", owner, expect=404), "not_found")


async def test_delete_someone_elses_dog_is_404_and_keeps_it(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, other = await api.signup(), await api.signup()
    dog = await add_dog(api, owner, name="mine")
    assert_error(await api.call("DELETE", f"/me/dogs/{dog['id']}", other, expect=404), "not_found")
    assert await db.fetchval("SELECT count(*) FROM dogs WHERE id = $1", uuid.UUID(dog["id"])) == 1


@pytest.mark.parametrize("dog_id", [str(uuid.uuid4()), "bogus"])
async def test_delete_unknown_or_malformed_dog_is_404(api: Api, dog_id: str) -> None:
    owner = await api.signup()
    assert_error(await api.call("DELETE", f"/me/dogs/{dog_id}", owner, expect=404), "not_found")


async def test_dog_routes_without_token_are_401(api: Api, db: asyncpg.Connection) -> None:
    owner = await api.signup()
    dog = await add_dog(api, owner, name="a")
    assert_error(await api.call("POST", "/me/dogs", expect=401, json={"name": "b"}), "unauthorized")
    assert_error(await api.call("GET", f"/users/{owner.id}/dogs", expect=401), "unauthorized")
    assert_error(await api.call("DELETE", f"/me/dogs/{dog['id']}", expect=401), "unauthorized")
    assert await db.fetchval("SELECT count(*) FROM dogs") == 1
