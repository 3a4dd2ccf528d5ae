"""Blocks that hold (CONTRACT section 3, Blocks and Account deletion), as the audit of issue 20
tried them: under races, in the interactions poll, in the location log, in counts; and an
account's deletion racing its own comments."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import asyncpg

from tests.api.walk_support import post_walk
from tests.support import Api, User

PASSWORD = "correct horse"


async def block(api: Api, blocker: User, blocked: User) -> None:
    await api.call("POST", f"/users/{blocked.id}/block", blocker, expect=201)


async def test_an_invitation_sent_while_its_invitee_blocks_the_sender_never_survives(
    api: Api, db: asyncpg.Connection
) -> None:
    """A blocks B while B invites A, at once, many times: whichever runs first, no open
    invitation is left between them (before, 20 of 20 survived the block)."""
    a = await api.signup()
    for _ in range(12):
        b = await api.signup()
        block_resp, invite_resp = await asyncio.gather(
            api.client.post(f"/users/{b.id}/block", headers=a.headers),
            api.client.post("/invitations", headers=b.headers, json={"invitee_id": a.id}),
        )
        assert block_resp.status == 201
        assert invite_resp.status in (201, 404), await invite_resp.text()
        still_open = await db.fetchval(
            """SELECT count(*) FROM invitations
               WHERE inviter_id = $1 AND invitee_id = $2 AND status IN ('pending', 'accepted')""",
            uuid.UUID(b.id),
            uuid.UUID(a.id),
        )
        assert still_open == 0
        received = await api.call("GET", "/invitations?box=received", a, expect=200)
        assert [i for i in received["items"] if i["status"] == "pending"] == []


async def poll(api: Api, viewer: User, walk_id: str) -> dict[str, Any]:
    body: dict[str, Any] = await api.call(
        "GET", f"/walks/{walk_id}/interactions", viewer, expect=200
    )
    return body


async def test_the_interactions_poll_hides_comments_across_a_block_both_ways(api: Api) -> None:
    owner, blocker, blocked = await api.signup(), await api.signup(), await api.signup()
    walk = (await post_walk(api, owner))["id"]
    for who in (owner, blocker, blocked):
        await api.call(
            "POST", f"/walks/{walk}/comments", who, expect=201, json={"body": f"hi {who.id}"}
        )
    await block(api, blocker, blocked)
    seen_by_blocked = await poll(api, blocked, walk)
    assert [c["user"]["id"] for c in seen_by_blocked["comments"]] == [owner.id, blocked.id]
    assert seen_by_blocked["comment_count"] == 2
    seen_by_blocker = await poll(api, blocker, walk)
    assert [c["user"]["id"] for c in seen_by_blocker["comments"]] == [owner.id, blocker.id]
    assert seen_by_blocker["comment_count"] == 2
    seen_by_owner = await poll(api, owner, walk)
    assert [c["user"]["id"] for c in seen_by_owner["comments"]] == [
        owner.id,
        blocker.id,
        blocked.id,
    ]
    assert seen_by_owner["comment_count"] == 3
    # Lifted, the comments show again.
    await api.call("DELETE", f"/users/{blocked.id}/block", blocker, expect=204)
    assert (await poll(api, blocked, walk))["comment_count"] == 3


async def test_the_location_log_keeps_a_blockers_id_but_not_their_profile(
    api: Api, db: asyncpg.Connection
) -> None:
    walker, partner = await api.signup(), await api.signup()
    now = dt.datetime.now(dt.UTC)
    for user, other, direction in ((walker, partner, "received"), (partner, walker, "provided")):
        await db.execute(
            """INSERT INTO location_access_log
                   (user_id, invitation_id, direction, partner_id, first_at, last_at, count)
               VALUES ($1, $2, $3, $4, $5, $5, 3)""",
            uuid.UUID(user.id),
            uuid.uuid4(),
            direction,
            uuid.UUID(other.id),
            now,
        )
    await block(api, partner, walker)
    entries = (await api.call("GET", "/me/location-log", walker, expect=200))["items"]
    assert [e["partner"] for e in entries] == [
        {"id": partner.id, "nickname": None, "profile_image_url": None}
    ]
    # The blocker still sees the person they blocked, as everywhere.
    entries = (await api.call("GET", "/me/location-log", partner, expect=200))["items"]
    assert entries[0]["partner"]["nickname"] == walker.nickname


async def test_a_profiles_follower_count_counts_only_the_followers_the_reader_sees(
    api: Api,
) -> None:
    star, fan, reader = await api.signup(), await api.signup(), await api.signup()
    await api.follow(fan, star)
    await api.follow(star, fan)
    await block(api, fan, reader)
    profile = await api.call("GET", f"/users/{star.id}", reader, expect=200)
    followers = await api.call("GET", f"/users/{star.id}/followers", reader, expect=200)
    following = await api.call("GET", f"/users/{star.id}/following", reader, expect=200)
    assert (profile["follower_count"], len(followers["items"])) == (0, 0)
    assert (profile["following_count"], len(following["items"])) == (0, 0)
    # The reader's own follow answer counts the same way.
    followed = await api.call("POST", f"/users/{star.id}/follow", reader, expect=201)
    assert followed["follower_count"] == 1
    assert (await api.call("GET", f"/users/{star.id}", star))["follower_count"] == 2


Request = tuple[str, str, User, dict[str, Any] | None]


async def flood_until(api: Api, done: asyncio.Event, requests: list[Request]) -> set[int]:
    """Send the requests round and round until `done` (at most 400): the statuses seen."""
    seen: set[int] = set()
    for n in range(400):
        if done.is_set():
            break
        method, path, who, body = requests[n % len(requests)]
        resp = await api.client.request(method, path, headers=who.headers, json=body)
        seen.add(resp.status)
        await resp.read()
    return seen


async def delete_during(api: Api, leaver: User, requests: list[Request]) -> set[int]:
    """`DELETE /me` for `leaver` while four streams send `requests` without pause, so some are
    under way at every step of the deletion's transaction: 204, and the streams' statuses."""
    done = asyncio.Event()

    async def deletion() -> int:
        resp = await api.client.delete("/me", headers=leaver.headers, json={"password": PASSWORD})
        done.set()
        text = await resp.text()
        assert resp.status == 204, text
        return resp.status

    floods = (flood_until(api, done, requests) for _ in range(4))
    results = await asyncio.gather(deletion(), *floods)
    return set().union(*results[1:])


async def test_deleting_an_account_while_it_comments_never_deadlocks(
    api: Api, db: asyncpg.Connection
) -> None:
    """`DELETE /me` amid the account's own comments and likes (before: 500
    DeadlockDetectedError in 5 of 5 bursts), and the owner's deletion amid comments on their
    walks: 204, and the others 201 (200) or refused (401: the account is gone; 404: the walk
    is), never 500."""
    for _ in range(3):
        owner, leaver = await api.signup(), await api.signup()
        walks = [(await post_walk(api, owner))["id"] for _ in range(3)]
        own_acts: list[Request] = [
            ("POST", f"/walks/{walk}/comments", leaver, {"body": "hi"}) for walk in walks
        ]
        own_acts += [("POST", f"/walks/{walk}/likes", leaver, None) for walk in walks]
        own_acts += [("DELETE", f"/walks/{walk}/likes", leaver, None) for walk in walks]
        assert await delete_during(api, leaver, own_acts) <= {200, 201, 401}
        gone = "SELECT NOT EXISTS (SELECT 1 FROM users WHERE id = $1)"
        assert await db.fetchval(gone, uuid.UUID(leaver.id))
        counts = await db.fetch(
            "SELECT comment_count, like_count FROM walks WHERE user_id = $1", uuid.UUID(owner.id)
        )
        assert [tuple(r) for r in counts] == [(0, 0)] * 3
        # The other way round: the walks' owner leaves while someone comments on them.
        fan = await api.signup()
        on_owners: list[Request] = [
            ("POST", f"/walks/{walk}/comments", fan, {"body": "hi"}) for walk in walks
        ]
        assert await delete_during(api, owner, on_owners) <= {201, 404}
