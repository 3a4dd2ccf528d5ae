"""Walk-together invitations over REST (CONTRACT section 3, Invitations)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

from services.api.app import create_app
from shared.keys import settings_key
from shared.walk_events import walk_channel
from tests.support import Api, User, assert_error, make_settings

WAIT_S = 10.0
INVITATION_FIELDS = {
    "id",
    "inviter",
    "invitee",
    "status",
    "message",
    "scheduled_at",
    "created_at",
    "responded_at",
    "ended_at",
    "expires_at",
}


def parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


async def invite(api: Api, inviter: User, invitee: User, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = await api.call(
        "POST", "/invitations", inviter, expect=201, json={"invitee_id": invitee.id, **fields}
    )
    return body


async def move(api: Api, action: str, invitation: dict[str, Any], user: User, expect: int) -> Any:
    return await api.call("POST", f"/invitations/{invitation['id']}/{action}", user, expect=expect)


async def accepted_walk(api: Api) -> tuple[User, User, dict[str, Any]]:
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await invite(api, inviter, invitee)
    await move(api, "accept", invitation, invitee, 200)
    return inviter, invitee, invitation


@pytest.fixture
async def walk_messages(redis: aioredis.Redis) -> AsyncIterator[PubSub]:
    pubsub = redis.pubsub()
    yield pubsub
    await pubsub.aclose()


async def next_message(pubsub: PubSub) -> dict[str, Any]:
    """The next message on the subscribed channels, waiting a bounded time."""
    async with asyncio.timeout(WAIT_S):
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                data: dict[str, Any] = json.loads(message["data"])
                return data


async def push_job_ids(redis: aioredis.Redis, wanted: uuid.UUID) -> set[str]:
    """The notification ids in `push:jobs`, once `wanted` is among them (bounded wait)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            ids = {e[b"notification_id"].decode() for _, e in await redis.xrange("push:jobs")}
            if str(wanted) in ids:
                return ids
            await asyncio.sleep(0.05)


# --- creating --------------------------------------------------------------------------------


async def test_create_returns_pending_invitation_with_both_users(api: Api) -> None:
    inviter, invitee = await api.signup("초코"), await api.signup("보리")
    body = await invite(api, inviter, invitee, message="한강 갈래?")
    assert set(body) == INVITATION_FIELDS
    assert body["status"] == "pending"
    assert body["message"] == "한강 갈래?"
    assert body["inviter"] == {"id": inviter.id, "nickname": "초코", "profile_image_url": None}
    assert body["invitee"] == {"id": invitee.id, "nickname": "보리", "profile_image_url": None}
    assert body["scheduled_at"] is None
    assert body["responded_at"] is None and body["ended_at"] is None
    ttl = dt.timedelta(seconds=api.client.app[settings_key].invitation_ttl_s)
    assert parse(body["expires_at"]) == parse(body["created_at"]) + ttl
    fetched = await api.call("GET", f"/invitations/{body['id']}", invitee, expect=200)
    assert fetched == body


async def test_scheduled_invitation_expires_ttl_after_its_scheduled_time(api: Api) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    scheduled = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))) + dt.timedelta(days=1)
    body = await invite(api, inviter, invitee, scheduled_at=scheduled.isoformat())
    assert parse(body["scheduled_at"]) == scheduled
    ttl = dt.timedelta(seconds=api.client.app[settings_key].invitation_ttl_s)
    assert parse(body["expires_at"]) == scheduled + ttl


async def test_scheduled_time_a_few_seconds_ago_is_accepted(api: Api) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    scheduled = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    body = await invite(api, inviter, invitee, scheduled_at=scheduled.isoformat())
    ttl = dt.timedelta(seconds=api.client.app[settings_key].invitation_ttl_s)
    assert parse(body["expires_at"]) == parse(body["created_at"]) + ttl


async def test_inviting_yourself_is_422_naming_invitee_id(api: Api, db: asyncpg.Connection) -> None:
    user = await api.signup()
    body = await api.call("POST", "/invitations", user, expect=422, json={"invitee_id": user.id})
    assert_error(body, "validation_error")
    assert [d["field"] for d in body["error"]["details"]] == ["invitee_id"]
    assert await db.fetchval("SELECT count(*) FROM invitations") == 0


async def test_inviting_an_unknown_user_is_404(api: Api, db: asyncpg.Connection) -> None:
    user = await api.signup()
    body = await api.call(
        "POST", "/invitations", user, expect=404, json={"invitee_id": str(uuid.uuid4())}
    )
    assert_error(body, "not_found")
    assert await db.fetchval("SELECT count(*) FROM invitations") == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"message": "x" * 201}, "message"),
        ({"message": "nul\u0000byte"}, "message"),
        ({"message": "bell\u0007"}, "message"),
        ({"scheduled_at": "2020-01-01T09:00:00+09:00"}, "scheduled_at"),
        ({"scheduled_at": "2099-01-01T09:00:00"}, "scheduled_at"),
        ({"scheduled_at": "9999-12-31T23:59:59+00:00"}, "scheduled_at"),
        ({"scheduled_at": 1893456000}, "scheduled_at"),
        ({"surprise": True}, "surprise"),
    ],
)
async def test_invalid_create_is_422_naming_the_field(
    api: Api, db: asyncpg.Connection, payload: dict[str, Any], field: str
) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    body = await api.call(
        "POST", "/invitations", inviter, expect=422, json={"invitee_id": invitee.id, **payload}
    )
    assert_error(body, "validation_error")
    assert field in {d["field"] for d in body["error"]["details"]}
    assert await db.fetchval("SELECT count(*) FROM invitations") == 0


async def test_message_of_200_chars_with_a_line_break_is_kept(api: Api) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    message = "멍" * 198 + "\n🐕"
    body = await invite(api, inviter, invitee, message=message)
    assert body["message"] == message


async def test_invitee_id_must_be_a_uuid(api: Api) -> None:
    user = await api.signup()
    body = await api.call("POST", "/invitations", user, expect=422, json={"invitee_id": "bori"})
    assert_error(body, "validation_error")
    assert [d["field"] for d in body["error"]["details"]] == ["invitee_id"]


async def test_malformed_json_is_400(api: Api) -> None:
    user = await api.signup()
    body = await api.call(
        "POST",
        "/invitations",
        user,
        expect=400,
        data=b'{"invitee_id": ',
        headers={"Content-Type": "application/json"},
    )
    assert_error(body, "invalid_json")


async def test_invitations_need_a_bearer_token(api: Api) -> None:
    assert_error(await api.call("GET", "/invitations", expect=401), "unauthorized")
    body = await api.call("POST", "/invitations", expect=401, json={"invitee_id": "x"})
    assert_error(body, "unauthorized")


async def test_second_open_invitation_is_409_in_both_directions(
    api: Api, db: asyncpg.Connection
) -> None:
    a, b = await api.signup(), await api.signup()
    first = await invite(api, a, b)
    for inviter, invitee in ((a, b), (b, a)):
        body = await api.call(
            "POST", "/invitations", inviter, expect=409, json={"invitee_id": invitee.id}
        )
        assert_error(body, "conflict")
    await move(api, "accept", first, b, 200)  # accepted is still open
    body = await api.call("POST", "/invitations", b, expect=409, json={"invitee_id": a.id})
    assert_error(body, "conflict")
    assert await db.fetchval("SELECT count(*) FROM invitations") == 1


@pytest.mark.parametrize(
    ("ending", "by_invitee"),
    [("decline", True), ("cancel", False), ("finish", True)],
)
async def test_new_invitation_allowed_once_the_open_one_ends(
    api: Api, ending: str, by_invitee: bool
) -> None:
    a, b = await api.signup(), await api.signup()
    first = await invite(api, a, b)
    if ending == "finish":
        await move(api, "accept", first, b, 200)
    await move(api, ending, first, b if by_invitee else a, 200)
    second = await invite(api, b, a)
    assert second["status"] == "pending" and second["id"] != first["id"]


async def test_overdue_pending_does_not_block_a_new_invitation(
    api: Api, db: asyncpg.Connection
) -> None:
    a, b = await api.signup(), await api.signup()
    first = await invite(api, a, b)
    await db.execute(
        "UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(first["id"]),
    )
    await invite(api, b, a)
    status = await db.fetchval(
        "SELECT status FROM invitations WHERE id = $1", uuid.UUID(first["id"])
    )
    assert status == "expired"


async def test_create_notifies_the_invitee_and_queues_a_push(
    api: Api, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await invite(api, inviter, invitee)
    rows = await db.fetch(
        "SELECT id, user_id, type, actor_id, data FROM notifications ORDER BY created_at"
    )
    assert [(str(r["user_id"]), r["type"], str(r["actor_id"])) for r in rows] == [
        (invitee.id, "invitation_received", inviter.id)
    ]
    assert rows[0]["data"] == {"invitation_id": invitation["id"]}
    assert str(rows[0]["id"]) in await push_job_ids(redis, rows[0]["id"])


# --- answering -------------------------------------------------------------------------------


async def test_invitee_accepts_and_inviter_is_notified_with_a_push(
    api: Api, db: asyncpg.Connection, redis: aioredis.Redis
) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await invite(api, inviter, invitee)
    body = await move(api, "accept", invitation, invitee, 200)
    assert body["status"] == "accepted"
    assert parse(body["responded_at"]) >= parse(body["created_at"])
    assert body["ended_at"] is None
    row = await db.fetchrow(
        "SELECT id, actor_id, data FROM notifications "
        "WHERE user_id = $1 AND type = 'invitation_accepted'",
        uuid.UUID(inviter.id),
    )
    assert row is not None
    assert str(row["actor_id"]) == invitee.id
    assert row["data"] == {"invitation_id": invitation["id"]}
    assert str(row["id"]) in await push_job_ids(redis, row["id"])


async def test_invitee_declines(api: Api, db: asyncpg.Connection) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await invite(api, inviter, invitee)
    body = await move(api, "decline", invitation, invitee, 200)
    assert body["status"] == "declined"
    assert body["responded_at"] is not None and body["ended_at"] is None
    accepted = await db.fetchval(
        "SELECT count(*) FROM notifications WHERE type = 'invitation_accepted'"
    )
    assert accepted == 0


async def test_inviter_cancels_a_pending_invitation(api: Api) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await invite(api, inviter, invitee)
    body = await move(api, "cancel", invitation, inviter, 200)
    assert body["status"] == "cancelled"
    assert body["ended_at"] is not None and body["responded_at"] is None


@pytest.mark.parametrize("who", ["inviter", "invitee"])
@pytest.mark.parametrize(("action", "status"), [("finish", "finished"), ("cancel", "cancelled")])
async def test_either_participant_ends_an_accepted_walk_and_gateways_hear_of_it(
    api: Api, walk_messages: PubSub, who: str, action: str, status: str
) -> None:
    inviter, invitee, invitation = await accepted_walk(api)
    await walk_messages.subscribe(walk_channel(invitation["id"]))
    body = await move(api, action, invitation, inviter if who == "inviter" else invitee, 200)
    assert body["status"] == status
    assert parse(body["ended_at"]) >= parse(body["responded_at"])
    assert await next_message(walk_messages) == {
        "type": "walk_ended",
        "invitation_id": invitation["id"],
        "status": status,
    }


async def test_cancelling_a_pending_invitation_announces_no_walk_end(
    api: Api, walk_messages: PubSub
) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    pending = await invite(api, inviter, invitee)
    walker, _, walk = await accepted_walk(api)
    await walk_messages.subscribe(walk_channel(pending["id"]), walk_channel(walk["id"]))
    await move(api, "cancel", pending, inviter, 200)
    await move(api, "finish", walk, walker, 200)
    # One publisher, so messages arrive in order: the finish's must be the first one.
    assert (await next_message(walk_messages))["invitation_id"] == walk["id"]


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "by"),
    [("accept", "inviter"), ("decline", "inviter"), ("cancel", "invitee")],
)
async def test_wrong_participant_on_a_pending_invitation_is_403(
    api: Api, action: str, by: str
) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await invite(api, inviter, invitee)
    body = await move(api, action, invitation, inviter if by == "inviter" else invitee, 403)
    assert_error(body, "forbidden")
    after = await api.call("GET", f"/invitations/{invitation['id']}", inviter, expect=200)
    assert after["status"] == "pending"


async def test_inviter_cannot_accept_even_after_it_ended(api: Api) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await invite(api, inviter, invitee)
    await move(api, "decline", invitation, invitee, 200)
    assert_error(await move(api, "accept", invitation, inviter, 403), "forbidden")


@pytest.mark.parametrize(
    ("setup", "action", "by"),
    [
        ([], "finish", "inviter"),  # a pending invitation is no walk yet
        (["accept"], "accept", "invitee"),
        (["accept"], "decline", "invitee"),
        (["decline"], "accept", "invitee"),
        (["decline"], "cancel", "inviter"),
        (["decline"], "cancel", "invitee"),
        (["accept", "finish"], "finish", "inviter"),
        (["accept", "finish"], "cancel", "invitee"),
        (["accept", "cancel"], "finish", "invitee"),
    ],
)
async def test_wrong_state_is_409_and_changes_nothing(
    api: Api, setup: list[str], action: str, by: str
) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await invite(api, inviter, invitee)
    for step in setup:
        await move(api, step, invitation, invitee, 200)
    before = await api.call("GET", f"/invitations/{invitation['id']}", inviter, expect=200)
    body = await move(api, action, invitation, inviter if by == "inviter" else invitee, 409)
    assert_error(body, "conflict")
    after = await api.call("GET", f"/invitations/{invitation['id']}", inviter, expect=200)
    assert after == before


@pytest.mark.parametrize("action", ["accept", "decline", "cancel", "finish"])
async def test_outsider_unknown_and_malformed_ids_are_404(api: Api, action: str) -> None:
    inviter, invitee, outsider = await api.signup(), await api.signup(), await api.signup()
    invitation = await invite(api, inviter, invitee)
    assert_error(await move(api, action, invitation, outsider, 404), "not_found")
    for bad_id in (str(uuid.uuid4()), "not-a-uuid"):
        body = await api.call("POST", f"/invitations/{bad_id}/{action}", invitee, expect=404)
        assert_error(body, "not_found")
    after = await api.call("GET", f"/invitations/{invitation['id']}", inviter, expect=200)
    assert after["status"] == "pending"


async def test_get_is_for_participants_only(api: Api) -> None:
    inviter, invitee, outsider = await api.signup(), await api.signup(), await api.signup()
    invitation = await invite(api, inviter, invitee)
    for user in (inviter, invitee):
        body = await api.call("GET", f"/invitations/{invitation['id']}", user, expect=200)
        assert body["id"] == invitation["id"]
    for path in (invitation["id"], str(uuid.uuid4()), "nope"):
        body = await api.call("GET", f"/invitations/{path}", outsider, expect=404)
        assert_error(body, "not_found")


async def test_racing_accept_and_cancel_change_the_invitation_once(api: Api) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await invite(api, inviter, invitee)
    path = f"/invitations/{invitation['id']}"
    accept, cancel = await asyncio.gather(
        api.client.post(f"{path}/accept", headers=invitee.headers),
        api.client.post(f"{path}/cancel", headers=inviter.headers),
    )
    assert sorted([accept.status, cancel.status]) in ([200, 200], [200, 409])
    final = await api.call("GET", path, inviter, expect=200)
    if cancel.status == 200:
        assert final["status"] == "cancelled"  # cancelled while pending, or after the accept
    else:
        assert final["status"] == "accepted"


# --- an invitation past its time, not yet swept ------------------------------------------------


@pytest.fixture
async def unswept_api(database_url: str, redis_url: str, aiohttp_client: Any) -> Api:
    """An API whose sweeper never comes round during a test: handlers must settle by themselves."""
    settings = make_settings(database_url, redis_url, invitation_sweep_interval_s=3600)
    return Api(await aiohttp_client(create_app(settings)))


async def test_pending_past_expiry_behaves_as_expired_before_any_sweep(
    unswept_api: Api, db: asyncpg.Connection, walk_messages: PubSub
) -> None:
    api = unswept_api
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await invite(api, inviter, invitee)
    invitation_id = uuid.UUID(invitation["id"])
    await db.execute(
        "UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1",
        invitation_id,
    )
    await walk_messages.subscribe(walk_channel(invitation_id))
    assert_error(await move(api, "accept", invitation, invitee, 409), "conflict")
    body = await api.call("GET", f"/invitations/{invitation_id}", invitee, expect=200)
    assert body["status"] == "expired"
    assert body["ended_at"] == body["expires_at"]
    row = await db.fetchrow("SELECT status FROM invitations WHERE id = $1", invitation_id)
    assert row["status"] == "expired"
    assert (await next_message(walk_messages))["status"] == "expired"


async def test_lists_show_overdue_invitations_in_their_final_state(
    unswept_api: Api, db: asyncpg.Connection
) -> None:
    api = unswept_api
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await invite(api, inviter, invitee)
    await db.execute("UPDATE invitations SET expires_at = now() - interval '1 second'")
    pending = await api.call("GET", "/invitations?status=pending", invitee, expect=200)
    assert pending["items"] == []
    expired = await api.call("GET", "/invitations?status=expired", invitee, expect=200)
    assert [i["id"] for i in expired["items"]] == [invitation["id"]]


async def test_accepted_past_max_walk_length_cannot_be_finished_again(
    unswept_api: Api, db: asyncpg.Connection
) -> None:
    api = unswept_api
    inviter, _, invitation = await accepted_walk(api)
    await db.execute("UPDATE invitations SET responded_at = now() - interval '1 day'")
    assert_error(await move(api, "finish", invitation, inviter, 409), "conflict")
    body = await api.call("GET", f"/invitations/{invitation['id']}", inviter, expect=200)
    assert body["status"] == "finished"
    max_walk = dt.timedelta(seconds=api.client.app[settings_key].max_walk_duration_s)
    assert parse(body["ended_at"]) == parse(body["responded_at"]) + max_walk


# --- lists -----------------------------------------------------------------------------------


async def test_lists_filter_by_box_and_status_newest_first(api: Api) -> None:
    me = await api.signup()
    friends = [await api.signup() for _ in range(3)]
    sent_first = await invite(api, me, friends[0])
    received = await invite(api, friends[1], me)
    sent_last = await invite(api, me, friends[2])
    await move(api, "decline", received, me, 200)

    async def ids(query: str) -> list[str]:
        body = await api.call("GET", f"/invitations{query}", me, expect=200)
        assert body["next_cursor"] is None
        return [item["id"] for item in body["items"]]

    assert await ids("") == [sent_last["id"], received["id"], sent_first["id"]]
    assert await ids("?box=sent") == [sent_last["id"], sent_first["id"]]
    assert await ids("?box=received") == [received["id"]]
    assert await ids("?status=declined") == [received["id"]]
    assert await ids("?box=sent&status=declined") == []
    assert await ids("?box=sent&status=pending") == [sent_last["id"], sent_first["id"]]
    outsider_view = await api.call("GET", "/invitations", friends[0], expect=200)
    assert [i["id"] for i in outsider_view["items"]] == [sent_first["id"]]


async def test_list_items_are_full_invitations(api: Api) -> None:
    inviter, invitee = await api.signup(), await api.signup()
    invitation = await invite(api, inviter, invitee, message="산책?")
    body = await api.call("GET", "/invitations?box=received", invitee, expect=200)
    assert body["items"] == [invitation]


@pytest.mark.parametrize("box", [None, "sent", "received"])
async def test_list_pages_with_a_cursor(api: Api, box: str | None) -> None:
    me = await api.signup()
    made = []
    for i in range(5):
        other = await api.signup()
        made.append(await invite(api, me, other) if i % 2 == 0 else await invite(api, other, me))
    expected = [
        m["id"]
        for m in reversed(made)
        if box is None or (m["inviter"]["id"] == me.id) == (box == "sent")
    ]
    seen: list[str] = []
    query = f"/invitations?limit=2{f'&box={box}' if box else ''}"
    cursor = None
    for _ in range(len(made)):
        body = await api.call(
            "GET", query + (f"&before={cursor}" if cursor else ""), me, expect=200
        )
        assert 0 < len(body["items"]) <= 2
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("box=inbox", "box"),
        ("status=open", "status"),
        ("status=", "status"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("before=garbage", "before"),
    ],
)
async def test_bad_list_parameters_are_422_naming_them(api: Api, query: str, field: str) -> None:
    me = await api.signup()
    body = await api.call("GET", f"/invitations?{query}", me, expect=422)
    assert_error(body, "validation_error")
    assert [d["field"] for d in body["error"]["details"]] == [field]


# --- Redis down ------------------------------------------------------------------------------


async def test_ending_a_walk_succeeds_when_redis_is_down(
    database_url: str, aiohttp_client: Any
) -> None:
    settings = make_settings(database_url, "redis://127.0.0.1:1/0")
    api = Api(await aiohttp_client(create_app(settings)))
    _, invitee, invitation = await accepted_walk(api)
    body = await move(api, "finish", invitation, invitee, 200)
    assert body["status"] == "finished"
