"""Times the API takes (services/api/web/times.py): out-of-range and offset-less times are 422
in every body and query, never a 500; numbers in bodies are JSON numbers."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import asyncpg
import pytest

from tests.api.walk_support import post_walk, walk_payload
from tests.support import Api, User, assert_error

# UTC year 0 once its offset is taken off: `astimezone` overflows.
YEAR_ONE_EAST = "0001-01-01T00:00:00+14:00"
LIST_ROUTES = (
    "/feed",
    "/users/{me}/walks",
    "/users/{me}/followers",
    "/users/{me}/following",
    "/users/{me}/dogs",
    "/invitations",
    "/notifications",
    "/walks/{walk}/interactions",
)


def _cursor(time_text: str) -> str:
    raw = f"{time_text}|{uuid.uuid4()}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


async def _fields_refused(api: Api, method: str, path: str, user: User, **kwargs: Any) -> list[str]:
    body = await api.call(method, path, user, expect=422, **kwargs)
    assert_error(body, "validation_error")
    return [d["field"] for d in body["error"]["details"]]


@pytest.mark.parametrize("since", [YEAR_ONE_EAST, "9999-12-31T23:59:59-14:00", "1969-12-31T23:59Z"])
@pytest.mark.parametrize("path", ["/feed", "/walks/{walk}/interactions"])
async def test_a_since_out_of_range_is_422(api: Api, path: str, since: str) -> None:
    me = await api.signup()
    walk = await post_walk(api, me)
    url = path.format(walk=walk["id"])
    assert await _fields_refused(api, "GET", url, me, params={"since": since}) == ["since"]


@pytest.mark.parametrize("path", ["/feed", "/walks/{walk}/interactions"])
async def test_a_since_without_an_offset_is_422_as_in_a_body(api: Api, path: str) -> None:
    me = await api.signup()
    walk = await post_walk(api, me)
    url = path.format(walk=walk["id"])
    params = {"since": "2026-11-20T07:00:00"}
    assert await _fields_refused(api, "GET", url, me, params=params) == ["since"]
    body = walk_payload(started_at="2026-11-20T07:00:00")
    assert await _fields_refused(api, "POST", "/walks", me, json=body) == ["started_at"]


@pytest.mark.parametrize("path", LIST_ROUTES)
async def test_a_before_cursor_out_of_range_is_422(api: Api, path: str) -> None:
    me = await api.signup()
    walk = await post_walk(api, me)
    url = path.format(me=me.id, walk=walk["id"])
    for time_text in (YEAR_ONE_EAST, "2026-11-20T07:00:00"):  # out of range; no offset
        params = {"before": _cursor(time_text)}
        assert await _fields_refused(api, "GET", url, me, params=params) == ["before"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("started_at", "0001-01-01T00:00:00+00:00"),
        ("started_at", YEAR_ONE_EAST),
        ("started_at", "9999-12-31T00:00:00+00:00"),
        ("ended_at", "9999-12-31T23:59:59-14:00"),
    ],
)
async def test_a_walk_out_of_range_is_422_and_stores_nothing(
    api: Api, db: asyncpg.Connection, field: str, value: str
) -> None:
    me = await api.signup()
    body = walk_payload(**{field: value})
    if field == "started_at":
        body["ended_at"] = value
    assert field in await _fields_refused(api, "POST", "/walks", me, json=body)
    assert await db.fetchval("SELECT count(*) FROM walks") == 0


@pytest.mark.parametrize(
    ("point", "field"),
    [
        ({"lat": 37.5, "lng": 127.0, "t": YEAR_ONE_EAST}, "t"),
        ({"lat": 37.5, "lng": 127.0, "t": 1e308}, "t"),
        ({"lat": 37.5, "lng": 127.0, "t": -1.0}, "t"),
        ({"lat": 37.5, "lng": 127.0, "t": True}, "t"),
        ({"lat": "5", "lng": 127.0, "t": 1_700_000_000}, "lat"),
        ({"lat": True, "lng": 127.0, "t": 1_700_000_000}, "lat"),
        ({"lat": 37.5, "lng": "127", "t": 1_700_000_000}, "lng"),
    ],
)
async def test_a_path_point_takes_only_real_numbers_and_times_in_range(
    api: Api, db: asyncpg.Connection, point: dict[str, Any], field: str
) -> None:
    me = await api.signup()
    body = walk_payload(path=[point])
    fields = await _fields_refused(api, "POST", "/walks", me, json=body)
    assert any(f.startswith("path.0.") and field in f.split(".") for f in fields), fields
    assert await db.fetchval("SELECT count(*) FROM walks") == 0


async def test_times_at_the_edges_of_the_range_are_taken(api: Api) -> None:
    me = await api.signup()
    point = {"lat": 37.5, "lng": 127.0, "t": 0}
    walk = await post_walk(
        api,
        me,
        started_at="1970-01-01T09:00:00+09:00",
        ended_at="1970-01-01T00:30:00+00:00",
        path=[point, {**point, "t": "8999-12-31T23:59:59+00:00"}],
    )
    assert walk["started_at"].startswith("1970-01-01T00:00:00")


async def test_a_scheduled_invitation_out_of_range_is_422(api: Api) -> None:
    me, friend = await api.signup(), await api.signup()
    body = {"invitee_id": friend.id, "scheduled_at": YEAR_ONE_EAST}
    assert await _fields_refused(api, "POST", "/invitations", me, json=body) == ["scheduled_at"]
