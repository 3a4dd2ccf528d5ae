"""Badges: which walk earns which badge, awarded once, in the same transaction as that walk.

Days are Seoul calendar days of each walk's start (see `seoul_time`). A badge is never taken
away: deleting the walk that earned it only clears `badges.walk_id`. Badges are shown to
everyone, so only public walks earn them and count towards them, as in the rankings
(`COUNTED_VISIBILITIES`): a private walk's distance, count or day must not show through them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

import asyncpg

from services.api.notifications.notify import notify
from services.api.rankings.walk_facts import WalkFacts
from services.api.visibility import COUNTED_VISIBILITIES
from services.api.web.seoul_time import SEOUL, day_start, seoul_day

BadgeCode = Literal[
    "first_walk",
    "walks_10",
    "walks_100",
    "distance_10km",
    "distance_100km",
    "streak_7",
    "first_walk_together",
]

# Every badge, in the order they are checked and announced, with its display name.
BADGE_NAMES: dict[BadgeCode, str] = {
    "first_walk": "첫 산책",  # the user's first walk
    "walks_10": "산책 10회",  # 10 walks
    "walks_100": "산책 100회",  # 100 walks
    "distance_10km": "누적 10km",  # total distance >= 10,000 m
    "distance_100km": "누적 100km",  # total distance >= 100,000 m
    "streak_7": "7일 연속 산책",  # walks on 7 consecutive Seoul days, the new walk's day among them
    "first_walk_together": "첫 함께 산책",  # a walk recorded for a walk-together invitation
}
STREAK_DAYS = 7


async def walk_totals(conn: asyncpg.Connection, user_id: uuid.UUID) -> tuple[int, float]:
    """How many counted walks the user has, and their total distance in metres."""
    row = await conn.fetchrow(
        "SELECT count(*) AS walks, coalesce(sum(distance_m), 0) AS metres "
        "FROM walks WHERE user_id = $1 AND visibility = ANY($2::text[])",
        user_id,
        COUNTED_VISIBILITIES,
    )
    assert row is not None  # an aggregate always returns a row
    return int(row["walks"]), float(row["metres"])


async def walk_days_around(
    conn: asyncpg.Connection, user_id: uuid.UUID, day: dt.date, radius: int
) -> set[dt.date]:
    """The Seoul days within `radius` days of `day` on which the user started a counted walk."""
    rows = await conn.fetch(
        "SELECT DISTINCT (started_at AT TIME ZONE $4)::date AS day FROM walks "
        "WHERE user_id = $1 AND started_at >= $2 AND started_at < $3 "
        "AND visibility = ANY($5::text[])",
        user_id,
        day_start(day - dt.timedelta(days=radius)),
        day_start(day + dt.timedelta(days=radius + 1)),
        SEOUL.key,
        COUNTED_VISIBILITIES,
    )
    return {r["day"] for r in rows}


def streak_through(day: dt.date, days: set[dt.date]) -> int:
    """Length of the run of consecutive days in `days` that contains `day`."""
    if day not in days:
        return 0
    first = last = day
    while first - dt.timedelta(days=1) in days:
        first -= dt.timedelta(days=1)
    while last + dt.timedelta(days=1) in days:
        last += dt.timedelta(days=1)
    return (last - first).days + 1


async def qualifying_badges(conn: asyncpg.Connection, walk: WalkFacts) -> list[BadgeCode]:
    """Every badge whose rule holds once `walk` (already inserted) is counted."""
    walks, metres = await walk_totals(conn, walk.user_id)
    day = seoul_day(walk.started_at)
    streak = streak_through(day, await walk_days_around(conn, walk.user_id, day, STREAK_DAYS - 1))
    rules: dict[BadgeCode, bool] = {
        "first_walk": walks >= 1,
        "walks_10": walks >= 10,
        "walks_100": walks >= 100,
        "distance_10km": metres >= 10_000,
        "distance_100km": metres >= 100_000,
        "streak_7": streak >= STREAK_DAYS,
        "first_walk_together": walk.invitation_id is not None,
    }
    return [code for code in BADGE_NAMES if rules[code]]


async def award_badges(conn: asyncpg.Connection, walk: WalkFacts) -> list[uuid.UUID]:
    """Award what `walk` earns and was not earned before; one `badge_earned` each.

    Runs inside the walk's transaction. Returns the notification ids to push after commit.
    """
    if walk.visibility not in COUNTED_VISIBILITIES:
        return []
    # Serialise one user's concurrent walks here, so the second one to get the lock sees the
    # first one's row (READ COMMITTED) and a threshold crossed by the pair is not missed.
    # NO KEY UPDATE: it does not conflict with the key-share lock the walk's own insert holds.
    await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", walk.user_id)
    codes = await qualifying_badges(conn, walk)
    new_codes = {
        r["code"]
        for r in await conn.fetch(
            """INSERT INTO badges (user_id, code, walk_id)
               SELECT $1, c.code, $2 FROM unnest($3::text[]) WITH ORDINALITY AS c(code, n)
               ORDER BY c.n
               ON CONFLICT (user_id, code) DO NOTHING
               RETURNING code""",
            walk.user_id,
            walk.id,
            codes,
        )
    }
    notification_ids: list[uuid.UUID] = []
    for code in codes:
        if code not in new_codes:
            continue
        notification_id = await notify(
            conn,
            recipient_id=walk.user_id,
            type="badge_earned",
            actor_id=None,
            data={"badge_code": code, "badge_name": BADGE_NAMES[code], "walk_id": str(walk.id)},
        )
        if notification_id is not None:
            notification_ids.append(notification_id)
    return notification_ids


async def user_badges(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """The user's badges, first earned first."""
    rows = await conn.fetch(
        "SELECT code, earned_at FROM badges WHERE user_id = $1 ORDER BY earned_at, code", user_id
    )
    return [
        {"code": r["code"], "name": BADGE_NAMES[r["code"]], "earned_at": r["earned_at"]}
        for r in rows
    ]
