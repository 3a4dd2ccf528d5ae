"""The polls' edge cases (CONTRACT section 3, Feed and Interactions): weak ETag comparison, a
phone clock that runs ahead, cursors only, and an interactions ETag that `since` does not move."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import asyncpg
import pytest

from services.api.web.pagination import Cursor
from tests.api.walk_support import follow, post_walk
from tests.support import Api, User, assert_error

FUTURE = "2999-01-01T00:00:00+00:00"


async def _get(
    api: Api, path: str, user: User, etag: str | None = None, **params: str
) -> tuple[int, str, bytes]:
    headers = dict(user.headers)
    if etag is not None:
        headers["If-None-Match"] = etag
    resp = await api.client.get(path, headers=headers, params=params)
    return resp.status, resp.headers.get("ETag", ""), await resp.read()


async def _poll_paths(api: Api, db: asyncpg.Connection) -> tuple[User, User, list[str]]:
    me, friend = await api.signup(), await api.signup()
    await follow(db, me, friend)
    walk = await post_walk(api, friend)
    return me, friend, ["/feed", f"/walks/{walk['id']}/interactions"]


async def test_if_none_match_is_compared_weakly_on_both_polls(
    api: Api, db: asyncpg.Connection
) -> None:
    me, _, paths = await _poll_paths(api, db)
    for path in paths:
        status, etag, _ = await _get(api, path, me)
        assert status == 200
        for header in (f"W/{etag}", "*", f'"nope", W/{etag}', f'"nope",{etag}'):
            status, same, body = await _get(api, path, me, header)
            assert (status, same, body) == (304, etag, b""), (path, header)
        for header in ('"nope"', 'W/"nope", "other"', etag[:-2] + '"'):
            status, _, _ = await _get(api, path, me, header)
            assert status == 200, (path, header)


async def test_a_since_ahead_of_the_server_clock_is_taken_as_now(
    api: Api, db: asyncpg.Connection
) -> None:
    me, friend, _ = await _poll_paths(api, db)
    before = dt.datetime.now(dt.UTC)
    poll = await api.call("GET", "/feed", me, expect=200, params={"since": FUTURE})
    assert poll["new_count"] == 0
    assert before <= Cursor.decode(poll["latest_cursor"]).created_at <= dt.datetime.now(dt.UTC)
    # The phone then polls with the cursor it got, and sees what comes next.
    walk = await post_walk(api, friend)
    since = poll["latest_cursor"]
    again = await api.call("GET", "/feed", me, expect=200, params={"since": since})
    assert [w["id"] for w in again["items"]] == [walk["id"]]
    assert again["new_count"] == 1


async def test_an_empty_feed_still_gives_a_cursor_that_later_polls_work_from(
    api: Api, db: asyncpg.Connection
) -> None:
    me, friend = await api.signup(), await api.signup()
    await follow(db, me, friend)
    page = await api.call("GET", "/feed", me, expect=200)
    assert page["items"] == [] and isinstance(page["latest_cursor"], str)
    since = page["latest_cursor"]
    quiet = await api.call("GET", "/feed", me, expect=200, params={"since": since})
    assert quiet == {"kind": "since", "items": [], "new_count": 0, "latest_cursor": since}
    walk = await post_walk(api, friend)
    poll = await api.call("GET", "/feed", me, expect=200, params={"since": since})
    assert [w["id"] for w in poll["items"]] == [walk["id"]] and poll["new_count"] == 1


async def test_an_iso_since_comes_back_as_the_cursor_of_that_instant(
    api: Api, db: asyncpg.Connection
) -> None:
    me, _, _ = await _poll_paths(api, db)
    instant = dt.datetime.now(dt.UTC)  # after every walk so far
    status, etag, raw = await _get(api, "/feed", me, since=instant.isoformat())
    latest = Cursor.decode(json.loads(raw)["latest_cursor"])
    assert status == 200 and latest.created_at == instant
    # The cursor it returned names the same poll: same answer, same ETag, so 304.
    status, same, _ = await _get(api, "/feed", me, etag, since=latest.encode())
    assert (status, same) == (304, etag)


async def test_moving_since_over_the_comments_received_keeps_the_interactions_poll_304(
    api: Api,
) -> None:
    owner, fan = await api.signup(), await api.signup()
    walk = await post_walk(api, owner)
    path = f"/walks/{walk['id']}/interactions"
    await api.call("POST", f"{path[: -len('/interactions')]}/comments", owner, json={"body": "1"})
    status, etag, raw = await _get(api, path, fan)
    last = json.loads(raw)["comments"][-1]
    for since in (
        last["created_at"],
        Cursor(dt.datetime.fromisoformat(last["created_at"]), uuid.UUID(last["id"])).encode(),
    ):
        status, same, body = await _get(api, path, fan, etag, since=since)
        assert (status, same, body) == (304, etag, b"")
    await api.call("POST", f"/walks/{walk['id']}/comments", owner, json={"body": "2"})
    status, _, raw = await _get(api, path, fan, etag, since=last["created_at"])
    assert status == 200
    assert [c["body"] for c in json.loads(raw)["comments"]] == ["2"]


async def test_interactions_take_limit_and_before_and_a_cut_answer_is_not_304(
    api: Api,
) -> None:
    owner = await api.signup()
    walk = await post_walk(api, owner)
    path = f"/walks/{walk['id']}/interactions"
    for body in ("a", "b", "c"):
        await api.call("POST", f"/walks/{walk['id']}/comments", owner, json={"body": body})
    status, etag, raw = await _get(api, path, owner, limit="2")
    first = json.loads(raw)
    assert status == 200 and [c["body"] for c in first["comments"]] == ["a", "b"]
    # Moving since over a cut answer's comments is a new page, never its 304.
    status, _, raw = await _get(
        api, path, owner, etag, limit="2", since=first["comments"][-1]["created_at"]
    )
    assert status == 200 and [c["body"] for c in json.loads(raw)["comments"]] == ["c"]
    third = first["comments"][1]
    before = Cursor(dt.datetime.fromisoformat(third["created_at"]), uuid.UUID(third["id"])).encode()
    older = await api.call("GET", path, owner, expect=200, params={"before": before})
    assert [c["body"] for c in older["comments"]] == ["a"]
    for params, field in (
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"before": "@@"}, "before"),
    ):
        body = await api.call("GET", path, owner, expect=422, params=params)
        assert_error(body, "validation_error")
        assert [d["field"] for d in body["error"]["details"]] == [field]


@pytest.mark.parametrize("param", ["before", "since", "limit"])
async def test_an_empty_query_parameter_is_taken_as_absent(
    api: Api, db: asyncpg.Connection, param: str
) -> None:
    me, _, paths = await _poll_paths(api, db)
    for path in [*paths, f"/users/{me.id}/walks", "/notifications"]:
        if param == "since" and path not in paths:
            continue
        absent = await api.call("GET", path, me, expect=200)
        empty = await api.call("GET", path, me, expect=200, params={param: ""})
        assert empty == absent, path
