"""`DELETE /me` (CONTRACT section 3, Account deletion)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from services.api.app import create_app
from services.api.walks.feed_heads import head_key
from shared.walk_events import last_location_key, walk_channel
from tests.api.walk_support import post_walk
from tests.support import CONSENTS, Api, User, assert_error, make_settings

PASSWORD = "correct horse"  # what Api.signup gives everyone


@dataclass
class Account:
    """A well-used account about to be deleted, and the people around it."""

    leaver: User
    friend: User  # follows the leaver and is followed back; liked and commented on
    fan: User  # follows the leaver, likes and comments on the leaver's walks
    leaver_walk: dict[str, Any]
    friend_walk: dict[str, Any]
    finished_walk_together: dict[str, Any]
    pending_invitation: dict[str, Any]
    device_token: str


def _recent_walk() -> dict[str, Any]:
    """A walk of this Seoul week, so it is ranked."""
    ended = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    started = ended - dt.timedelta(minutes=30)
    return {"started_at": started.isoformat(), "ended_at": ended.isoformat()}


async def _invite(api: Api, inviter: User, invitee: User) -> dict[str, Any]:
    invitation: dict[str, Any] = await api.call(
        "POST",
        "/invitations",
        inviter,
        expect=201,
        json={"invitee_id": invitee.id, "message": "산책 갈래요?"},
    )
    return invitation


@pytest.fixture
async def account(api: Api) -> Account:
    leaver = await api.signup(f"leaver{uuid.uuid4().hex[:6]}")
    friend, fan = await api.signup("friend"), await api.signup("fan")
    for a, b in ((friend, leaver), (leaver, friend), (fan, leaver)):
        await api.follow(a, b)
    dog = await api.call("POST", "/me/dogs", leaver, expect=201, json={"name": "초코"})
    zone = {"lat": 37.5, "lng": 127.0, "radius_m": 200}
    await api.call("POST", "/me/privacy-zones", leaver, expect=201, json=zone)
    settings = {"push": {"walk_liked": False}, "quiet_hours": {"start": "23:00", "end": "07:00"}}
    await api.call("PATCH", "/me/notification-settings", leaver, expect=200, json=settings)
    blocked, blocker = await api.signup(), await api.signup()
    await api.call("POST", f"/users/{blocked.id}/block", leaver, expect=201)
    await api.call("POST", f"/users/{leaver.id}/block", blocker, expect=201)
    device_token = f"device-{uuid.uuid4().hex}"
    await api.call(
        "POST", "/devices", leaver, expect=201, json={"token": device_token, "platform": "ios"}
    )
    together = await _invite(api, leaver, friend)
    await api.call("POST", f"/invitations/{together['id']}/accept", friend, expect=200)
    await api.call("POST", f"/invitations/{together['id']}/finish", friend, expect=200)
    leaver_walk = await post_walk(
        api,
        leaver,
        distance_m=1200,
        dog_ids=[dog["id"]],
        invitation_id=together["id"],
        path=[{"lat": 37.5, "lng": 127.0, "t": 1_700_000_000}],
        **_recent_walk(),
    )
    friend_walk = await post_walk(api, friend, distance_m=900, **_recent_walk())
    for user in (friend, fan):
        await api.call("POST", f"/walks/{leaver_walk['id']}/likes", user, expect=201)
        await api.call(
            "POST",
            f"/walks/{leaver_walk['id']}/comments",
            user,
            expect=201,
            json={"body": "멋져요"},
        )
    await api.call("POST", f"/walks/{friend_walk['id']}/likes", leaver, expect=201)
    for _ in range(2):
        await api.call(
            "POST", f"/walks/{friend_walk['id']}/comments", leaver, expect=201, json={"body": "hi"}
        )
    await api.call(
        "POST", f"/walks/{friend_walk['id']}/comments", fan, expect=201, json={"body": "yo"}
    )
    await api.call("GET", "/rankings/weekly", leaver, expect=200)
    pending = await _invite(api, fan, leaver)
    return Account(leaver, friend, fan, leaver_walk, friend_walk, together, pending, device_token)


async def _delete(api: Api, user: User, expect: int = 204, password: str = PASSWORD) -> Any:
    return await api.call("DELETE", "/me", user, expect=expect, json={"password": password})


async def _public_tables(db: asyncpg.Connection) -> list[str]:
    rows = await db.fetch(
        """SELECT table_name FROM information_schema.tables
           WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
           ORDER BY table_name"""
    )
    return [row["table_name"] for row in rows]


# The records the contract keeps after the account, each for its own reason (the README says
# how long): they name the account by id alone, never its email, nickname or device.
OUTLIVE_THE_ACCOUNT = {
    "consent_records": "proof of what was consented to, kept 5 years after the account",
    "reports": "report evidence (a reporter's id, a snapshot of what they reported), kept "
    "REPORT_EVIDENCE_RETENTION_DAYS after resolution whatever happens to the accounts",
    "audit_log": "what staff did and to whom, append-only (the database refuses deletion)",
    "consent_retention": "when those 5 years started",
}


async def test_no_row_of_the_account_remains_in_any_table(
    api: Api, db: asyncpg.Connection, account: Account
) -> None:
    """Every table the catalog lists, so a table added later is covered too: no column that
    references users holds the account's id, and no row mentions it (in any column, jsonb
    included), nor its email, nickname or device token."""
    leaver = account.leaver
    tables = await _public_tables(db)
    expected = {"users", "walks", "likes", "notifications", "devices", "invitations", "sessions"}
    assert expected | {"privacy_zones", "notification_settings", "blocks"} <= set(tables)
    traces = [leaver.id, leaver.email, leaver.nickname, account.device_token]

    async def rows_mentioning(table: str) -> dict[str, int]:
        found = {}
        for trace in traces if table not in OUTLIVE_THE_ACCOUNT else traces[1:]:
            count = await db.fetchval(
                f'SELECT count(*) FROM "{table}" t WHERE strpos(t::text, $1) > 0', trace
            )
            if count:
                found[trace] = count
        return found

    before = {t: await rows_mentioning(t) for t in tables}
    # The set-up holds: the account is in these (a privacy zone row names its owner's id).
    held = ("users", "walks", "notifications", "privacy_zones", "notification_settings", "blocks")
    assert all(before[t] for t in held)
    await _delete(api, leaver)

    remaining = {t: found for t in tables if (found := await rows_mentioning(t))}
    assert remaining.keys() <= OUTLIVE_THE_ACCOUNT.keys(), remaining
    references = await db.fetch(
        """SELECT c.conrelid::regclass::text AS tab, a.attname AS col
           FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
           WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass"""
    )
    assert {(r["tab"], r["col"]) for r in references} >= {
        ("walks", "user_id"),
        ("likes", "user_id"),
    }
    for ref in references:
        count = await db.fetchval(
            f'SELECT count(*) FROM {ref["tab"]} WHERE "{ref["col"]}" = $1', uuid.UUID(leaver.id)
        )
        assert count == 0, ref


async def test_counts_others_see_drop(api: Api, account: Account) -> None:
    friend_walk = f"/walks/{account.friend_walk['id']}"
    before = await api.call("GET", friend_walk, account.friend, expect=200)
    assert (before["like_count"], before["comment_count"]) == (1, 3)
    profile = await api.call("GET", f"/users/{account.friend.id}", account.friend, expect=200)
    assert (profile["follower_count"], profile["following_count"]) == (1, 1)

    await _delete(api, account.leaver)

    after = await api.call("GET", friend_walk, account.friend, expect=200)
    assert (after["like_count"], after["comment_count"]) == (0, 1)
    interactions = await api.call("GET", f"{friend_walk}/interactions", account.friend, expect=200)
    assert [c["user"]["id"] for c in interactions["comments"]] == [account.fan.id]
    assert interactions["like_count"] == 0
    profile = await api.call("GET", f"/users/{account.friend.id}", account.friend, expect=200)
    assert (profile["follower_count"], profile["following_count"]) == (0, 0)
    fan = await api.call("GET", f"/users/{account.fan.id}", account.fan, expect=200)
    assert fan["following_count"] == 0


async def test_the_account_is_404_everywhere(api: Api, account: Account) -> None:
    leaver, friend = account.leaver, account.friend
    await _delete(api, leaver)
    for method, path in [
        ("GET", f"/users/{leaver.id}"),
        ("GET", f"/users/{leaver.id}/walks"),
        ("GET", f"/users/{leaver.id}/dogs"),
        ("GET", f"/users/{leaver.id}/badges"),
        ("GET", f"/users/{leaver.id}/followers"),
        ("GET", f"/users/{leaver.id}/following"),
        ("POST", f"/users/{leaver.id}/follow"),
        ("DELETE", f"/users/{leaver.id}/follow"),
        ("GET", f"/walks/{account.leaver_walk['id']}"),
        ("POST", f"/walks/{account.leaver_walk['id']}/likes"),
    ]:
        assert_error(await api.call(method, path, friend, expect=404), "not_found")
    invite = await api.call(
        "POST", "/invitations", friend, expect=404, json={"invitee_id": leaver.id}
    )
    assert_error(invite, "not_found")
    found = await api.call("GET", "/users", friend, expect=200, params={"query": leaver.nickname})
    assert found["items"] == []
    feed = await api.call("GET", "/feed", friend, expect=200)
    assert [w["user"]["id"] for w in feed["items"]] == [friend.id]
    notifications = await api.call("GET", "/notifications", friend, expect=200)
    assert all(n["actor"] is None or n["actor"]["id"] != leaver.id for n in notifications["items"])
    ranking = await api.call("GET", "/rankings/weekly", friend, expect=200)
    assert [item["user"]["id"] for item in ranking["items"]] == [friend.id]


async def test_the_email_can_sign_up_again_at_once(api: Api, account: Account) -> None:
    await _delete(api, account.leaver)
    credentials = {"email": account.leaver.email, "password": PASSWORD}
    again = await api.call(
        "POST",
        "/auth/signup",
        expect=201,
        json={**credentials, "nickname": "new me", "consents": CONSENTS},
    )
    assert again["user"]["id"] != account.leaver.id
    login = await api.call("POST", "/auth/login", expect=200, json=credentials)
    assert login["user"]["id"] == again["user"]["id"]


async def test_the_partner_keeps_the_invitation_with_the_leaver_as_null(
    api: Api, account: Account
) -> None:
    await _delete(api, account.leaver)
    kept = await api.call(
        "GET", f"/invitations/{account.finished_walk_together['id']}", account.friend, expect=200
    )
    assert kept["inviter"] is None
    assert kept["invitee"]["id"] == account.friend.id
    assert kept["status"] == "finished"
    assert kept["message"] is None  # the leaver's words go with them
    cancelled = await api.call(
        "GET", f"/invitations/{account.pending_invitation['id']}", account.fan, expect=200
    )
    assert (cancelled["status"], cancelled["invitee"]) == ("cancelled", None)
    sent = await api.call("GET", "/invitations?box=sent", account.fan, expect=200)
    assert [i["invitee"] for i in sent["items"]] == [None]


async def test_open_invitations_are_cancelled_and_announced(
    api: Api, redis: aioredis.Redis, account: Account
) -> None:
    walk = await _invite(api, account.friend, account.leaver)
    await api.call("POST", f"/invitations/{walk['id']}/accept", account.leaver, expect=200)
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(walk_channel(walk["id"]))
        await pubsub.get_message(timeout=1.0)  # the subscription's confirmation
        await _delete(api, account.leaver)
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
    assert message is not None
    assert b'"walk_ended"' in message["data"] and b'"cancelled"' in message["data"]
    got = await api.call("GET", f"/invitations/{walk['id']}", account.friend, expect=200)
    assert (got["status"], got["invitee"]) == ("cancelled", None)
    assert got["ended_at"] is not None


async def test_copies_in_redis_are_erased(
    api: Api, redis: aioredis.Redis, account: Account
) -> None:
    leaver = account.leaver
    walk = await _invite(api, leaver, account.friend)
    await api.call("POST", f"/invitations/{walk['id']}/accept", account.friend, expect=200)
    # What the gateway would hold for the leaver, in this walk and the one that finished.
    for invitation in (walk, account.finished_walk_together):
        await redis.set(last_location_key(invitation["id"], leaver.id), b"{}", ex=3600)
    await redis.set(last_location_key(walk["id"], account.friend.id), b"{}", ex=3600)
    elsewhere = last_location_key(uuid.uuid4(), account.friend.id)  # a walk the leaver is not in
    await redis.set(elsewhere, b"{}", ex=3600)
    await api.call("GET", "/feed?since=2026-01-01T00:00:00Z", leaver, expect=200)
    assert await redis.exists(head_key(uuid.UUID(leaver.id)))
    distance_keys = [k async for k in redis.scan_iter("rank:weekly:*:distance")]
    assert distance_keys and await redis.zscore(distance_keys[0], leaver.id) is not None

    await _delete(api, leaver)

    assert not await redis.exists(head_key(uuid.UUID(leaver.id)))
    for invitation in (walk, account.finished_walk_together):
        assert not await redis.exists(last_location_key(invitation["id"], leaver.id))
    # The deletion ended the walk, whose raw coordinates go with it (issue 20); the friend's
    # copies elsewhere stay.
    assert not await redis.exists(last_location_key(walk["id"], account.friend.id))
    assert await redis.exists(elsewhere)
    for key in distance_keys:
        assert await redis.zscore(key, leaver.id) is None
        assert await redis.zscore(key, account.friend.id) is not None
        walks_key = key.replace(b":distance", b":walks")
        assert not await redis.hexists(walks_key, leaver.id)
        counted_key = key.replace(b":distance", b":counted")
        assert not await redis.sismember(counted_key, account.leaver_walk["id"])


async def test_wrong_password_is_403_and_erases_nothing(
    api: Api, db: asyncpg.Connection, account: Account
) -> None:
    body = await _delete(api, account.leaver, expect=403, password="not my password")
    assert_error(body, "forbidden")
    assert await api.call("GET", f"/users/{account.leaver.id}", account.friend, expect=200)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM likes WHERE user_id = $1", uuid.UUID(account.leaver.id)
        )
        == 1
    )


@pytest.mark.parametrize("payload", [{}, {"password": 1}, {"password": "x", "also": 1}])
async def test_bad_body_is_422(api: Api, payload: dict[str, Any]) -> None:
    user = await api.signup()
    assert_error(
        await api.call("DELETE", "/me", user, expect=422, json=payload), "validation_error"
    )
    assert await api.call("GET", "/me", user, expect=200)


async def test_deletion_needs_a_token(api: Api) -> None:
    body = await api.call("DELETE", "/me", expect=401, json={"password": PASSWORD})
    assert_error(body, "unauthorized")


async def test_one_persons_deletion_leaves_another_leavers_counters_exact(
    api: Api, account: Account
) -> None:
    """Two accounts that liked the same walk, deleted one after the other."""
    await api.call("POST", f"/walks/{account.friend_walk['id']}/likes", account.fan, expect=201)
    await _delete(api, account.leaver)
    await _delete(api, account.fan)
    after = await api.call("GET", f"/walks/{account.friend_walk['id']}", account.friend, expect=200)
    assert (after["like_count"], after["comment_count"]) == (0, 0)


async def test_every_session_ends_and_its_tokens_are_refused(api: Api, account: Account) -> None:
    leaver = account.leaver
    credentials = {"email": leaver.email, "password": PASSWORD}
    other_session = await api.call("POST", "/auth/login", expect=200, json=credentials)
    await _delete(api, leaver)
    for headers in (leaver.headers, _bearer(other_session)):
        assert_error(await api.call("GET", "/me", headers=headers, expect=401), "unauthorized")
        assert_error(
            await api.call("POST", "/walks", headers=headers, expect=401, json=_recent_walk()),
            "unauthorized",
        )
    for refresh_token in (leaver.refresh_token, other_session["refresh_token"]):
        refused = await api.call(
            "POST", "/auth/refresh", expect=401, json={"refresh_token": refresh_token}
        )
        assert_error(refused, "unauthorized")
    assert_error(
        await api.call("POST", "/auth/login", expect=401, json=credentials), "unauthorized"
    )


def _bearer(answer: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {answer['access_token']}"}


async def test_the_partners_location_log_keeps_the_entry_naming_no_one(
    api: Api, db: asyncpg.Connection, account: Account
) -> None:
    """As the gateway writes the ledger (services/realtime/ledger.py) for a walk together."""
    leaver, friend = uuid.UUID(account.leaver.id), uuid.UUID(account.friend.id)
    walk = uuid.UUID(account.finished_walk_together["id"])
    for user, direction, partner in ((leaver, "provided", friend), (friend, "received", leaver)):
        await db.execute(
            """INSERT INTO location_access_log
                   (user_id, invitation_id, direction, partner_id, first_at, last_at, count)
               VALUES ($1, $2, $3, $4, now() - interval '1 hour', now(), 12)""",
            user,
            walk,
            direction,
            partner,
        )
    await _delete(api, account.leaver)
    log = await api.call("GET", "/me/location-log", account.friend, expect=200)
    assert [(e["invitation_id"], e["direction"], e["partner"]) for e in log["items"]] == [
        (str(walk), "received", None)
    ]
    assert (
        await db.fetchval("SELECT count(*) FROM location_access_log WHERE user_id = $1", leaver)
        == 0
    )


async def test_wrong_passwords_are_limited_with_those_of_a_password_change(
    database_url: str, redis_url: str, aiohttp_client: Any
) -> None:
    """A stolen access token must not let anyone try passwords here without limit."""
    settings = make_settings(database_url, redis_url, password_failure_limit_per_user=2)
    api = Api(await aiohttp_client(create_app(settings)))
    owner = await api.signup()
    guess = {"current_password": "wrong horse", "new_password": "battery staple"}
    await api.call("POST", "/me/password", owner, expect=403, json=guess)
    await _delete(api, owner, expect=403, password="wrong horse")
    assert_error(await _delete(api, owner, expect=429, password="wrong horse"), "rate_limited")
    assert await api.call("GET", "/me", owner, expect=200)
