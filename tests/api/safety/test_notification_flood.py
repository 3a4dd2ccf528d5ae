"""What one person, or a few fresh accounts, can make another's phone do with comments (issue
20's comment flood; CONTRACT section 3, Notifications): one actor notifies one recipient at most
20 times an hour, and the comments on one walk push at most once a minute, the later ones folded
into the next push with their count."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg

from services.api.notifications.notify import PER_ACTOR_PER_HOUR
from services.api.push_worker.messages import PushNotification, data_payload, title_and_body
from tests.api.walk_support import post_walk
from tests.support import Api, User


async def comment(api: Api, who: User, walk_id: str, n: int) -> int:
    resp = await api.client.post(
        f"/walks/{walk_id}/comments", headers=who.headers, json={"body": f"comment {n}"}
    )
    return resp.status


async def notifications_of(db: asyncpg.Connection, user: User) -> list[asyncpg.Record]:
    return await db.fetch(
        """SELECT actor_id, push_state, push_count, push_due_at > clock_timestamp() AS later
           FROM notifications WHERE user_id = $1 AND type = 'walk_commented'
           ORDER BY created_at""",
        uuid.UUID(user.id),
    )


async def test_a_comment_flood_reaches_the_owners_phone_twice_a_minute_at_most(
    api: Api, db: asyncpg.Connection
) -> None:
    victim, flooder = await api.signup(), await api.signup()
    walk = (await post_walk(api, victim))["id"]
    statuses = await asyncio.gather(*(comment(api, flooder, walk, n) for n in range(30)))
    assert set(statuses) == {201}  # the comments are on the walk...
    rows = await notifications_of(db, victim)
    assert len(rows) == PER_ACTOR_PER_HOUR  # ...but one actor notifies 20 times an hour
    # Five fresh accounts add theirs: still in the list, all folded into one push.
    helpers = [await api.signup() for _ in range(5)]
    for n, helper in enumerate(helpers):
        assert await comment(api, helper, walk, n) == 201
    rows = await notifications_of(db, victim)
    assert len(rows) == PER_ACTOR_PER_HOUR + 5
    states = [row["push_state"] for row in rows]
    now = [row for row in rows if row["push_state"] == "pending" and not row["later"]]
    carriers = [row for row in rows if row["push_state"] == "pending" and row["later"]]
    assert len(now) == 1 and len(carriers) == 1  # one push at once, one a minute later
    assert states.count("folded") == len(rows) - 2
    assert carriers[0]["push_count"] == len(rows) - 1  # "24 new comments"
    # Another walk is another thread; another recipient has budgets of their own.
    other_walk = (await post_walk(api, victim))["id"]
    assert await comment(api, helpers[0], other_walk, 99) == 201
    rows = await notifications_of(db, victim)
    assert sum(1 for r in rows if r["push_state"] == "pending" and not r["later"]) == 2


async def test_once_the_minute_is_over_the_next_comment_is_pushed_at_once(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, fan = await api.signup(), await api.signup()
    walk = (await post_walk(api, owner))["id"]
    assert await comment(api, fan, walk, 1) == 201
    await db.execute(  # the thread's minute passes
        "UPDATE push_folds SET next_push_at = clock_timestamp() - interval '1 second'"
    )
    assert await comment(api, fan, walk, 2) == 201
    rows = await notifications_of(db, owner)
    assert [(r["push_state"], r["later"]) for r in rows] == [("pending", None), ("pending", None)]


async def test_the_actor_ceiling_counts_per_recipient(api: Api, db: asyncpg.Connection) -> None:
    first, second, fan = await api.signup(), await api.signup(), await api.signup()
    walks = [(await post_walk(api, owner))["id"] for owner in (first, second)]
    for walk in walks:
        for n in range(PER_ACTOR_PER_HOUR + 2):
            assert await comment(api, fan, walk, n) == 201
    assert len(await notifications_of(db, first)) == PER_ACTOR_PER_HOUR
    assert len(await notifications_of(db, second)) == PER_ACTOR_PER_HOUR


def test_a_push_that_carries_folded_comments_says_how_many() -> None:
    def push(count: int) -> PushNotification:
        data: dict[str, Any] = {"walk_id": str(uuid.uuid4())}
        return PushNotification(uuid.uuid4(), "walk_commented", uuid.uuid4(), "초코", data, count)

    assert title_and_body(push(1)) == ("새 댓글", "초코님이 회원님의 산책에 댓글을 남겼어요")
    assert title_and_body(push(3)) == ("새 댓글 3개", "회원님의 산책에 새 댓글이 3개 달렸어요")
    assert data_payload(push(3))["count"] == "3"
    assert "count" not in data_payload(push(1))
