"""Who may see what, in one place, so the rules cannot drift between routes.

- A user, and everything of theirs (profile, walks, dogs, badges, lists, invitations), is hidden
  from anyone they have blocked: `user_visible_to`. The blocker still sees the blocked person
  (to unblock them).
- Between two people either of whom blocked the other, nothing connects: neither appears to the
  other in a list, the feed or search, and neither may follow or invite the other:
  `unblocked_between`.
- A walk: its owner; anyone the owner has not blocked if public; the owner's followers if
  "followers" (a walk the caller may not see is 404 everywhere): `walk_visible_to`.
- Its path: the owner sees all of it; anyone else sees it without the points inside the owner's
  privacy zones. Trimmed when read, so a zone also covers walks recorded before it, and a zone
  removed shows their points again. Every query that returns a path selects `path_zones_for`
  beside it and answers `visible_path(...)`.
- A user, in search: one SQL condition, `user_findable_by`; in the weekly ranking (read from
  Redis), the same people left out as a set, `blocked_either_way`.
- What everyone may see of someone's walking, the weekly rankings and the badges, counts their
  public walks only (`COUNTED_VISIBILITIES`): a private walk must not show up anywhere as a
  distance, a count or a day walked, and a followers-only one would show it to strangers.
- A notification: shown (and pushed) to its recipient unless a block stands between them and
  its actor, either way: `notification_shown_to`. Hidden, not deleted: a lifted block shows it
  again.

The SQL conditions are used by every query that returns or names a user or a walk. Their
arguments are SQL expressions: a column such as `w.user_id`, or a bound parameter such as `$1`.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import asyncpg

# Shared with the gateway, which refuses a walk across a block (shared/blocks.py).
from shared.blocks import unblocked_between as unblocked_between

EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG)
COUNTED_VISIBILITIES = ["public"]


def user_visible_to(user: str, viewer: str) -> str:
    """SQL condition: `viewer` may see the user `user` and what is theirs (not blocked by them)."""
    return (
        f"NOT EXISTS (SELECT 1 FROM blocks vb WHERE vb.blocker_id = {user} "
        f"AND vb.blocked_id = {viewer})"
    )


def walk_audience_includes(walk: str, viewer: str) -> str:
    """SQL condition: the walk's `visibility` lets `viewer` see it. Only for a query that has
    already required `user_visible_to` of the walk's owner (the feed does it once per author
    instead of once per walk); everything else uses `walk_visible_to`."""
    w, v = walk, viewer
    return (
        f"({w}.user_id = {v} OR {w}.visibility = 'public' OR ({w}.visibility = 'followers' "
        f"AND EXISTS (SELECT 1 FROM follows vf WHERE vf.follower_id = {v} "
        f"AND vf.followee_id = {w}.user_id)))"
    )


def walk_visible_to(walk: str, viewer: str) -> str:
    """SQL condition: the walk aliased `walk` is visible to the user `viewer`."""
    w, v = walk, viewer
    return (
        f"({w}.user_id = {v} OR ({user_visible_to(f'{w}.user_id', v)} "
        f"AND {walk_audience_includes(w, v)}))"
    )


async def user_visible(conn: asyncpg.Connection, user_id: uuid.UUID, viewer_id: uuid.UUID) -> bool:
    """Whether the user exists and `viewer_id` may see them: else their routes answer 404."""
    visible: bool = await conn.fetchval(
        f"""SELECT EXISTS (SELECT 1 FROM users u
                           WHERE u.id = $1 AND {user_visible_to("u.id", "$2")})""",
        user_id,
        viewer_id,
    )
    return visible


async def has_blocked(
    conn: asyncpg.Connection, blocker_id: uuid.UUID, blocked_id: uuid.UUID
) -> bool:
    blocked: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2)",
        blocker_id,
        blocked_id,
    )
    return blocked


def _blocked_either_way(viewer: str) -> str:
    """SQL subquery: the ids of everyone `viewer` blocked or was blocked by. With `viewer` a bound
    parameter it is read once (a hashed subplan) rather than probed for each row it is tested
    against: a broad search weighs thousands of nicknames before it sorts out a page."""
    return (
        f"SELECT vb.blocked_id FROM blocks vb WHERE vb.blocker_id = {viewer} "
        f"UNION ALL SELECT vb.blocker_id FROM blocks vb WHERE vb.blocked_id = {viewer}"
    )


def user_findable_by(user_alias: str, viewer_param: str) -> str:
    """SQL condition: the user `user_alias` may be listed to the viewer at `viewer_param` when
    looking for people (search): anyone but the viewer, unless either blocked the other. A
    deleted account has no row left."""
    u, v = user_alias, viewer_param
    return f"({u}.id <> {v} AND {u}.id NOT IN ({_blocked_either_way(v)}))"


def notification_shown_to(notification: str, recipient: str) -> str:
    """SQL condition: the notification aliased `notification`, whose recipient is `recipient`
    (`$1` for one person's list, `n.user_id` for a batch of pushes), is shown and pushed: it has
    no actor, or no block stands between the actor and the recipient. Its count, its page and its
    push all use this, so the unread count never counts what the list leaves out."""
    n = notification
    return f"({n}.actor_id IS NULL OR {n}.actor_id NOT IN ({_blocked_either_way(recipient)}))"


async def blocked_either_way(
    conn: asyncpg.Pool | asyncpg.Connection, viewer_id: uuid.UUID
) -> set[uuid.UUID]:
    """Everyone `viewer_id` blocked or was blocked by: left out of a list read from Redis (the
    weekly ranking), as `unblocked_between` leaves them out of one read from SQL."""
    rows = await conn.fetch(_blocked_either_way("$1"), viewer_id)
    return {row[0] for row in rows}


def path_zones_for(walk_alias: str, viewer_param: str) -> str:
    """SQL select item `path_zones`: the walk owner's zones as `[[lat, lng, radius_m], ...]` when
    the viewer is someone else, NULL for the owner (who sees the whole path) or without zones."""
    w, v = walk_alias, viewer_param
    return (
        f"CASE WHEN {w}.user_id = {v} THEN NULL ELSE "
        f"(SELECT jsonb_agg(jsonb_build_array(pz.lat, pz.lng, pz.radius_m)) "
        f"FROM privacy_zones pz WHERE pz.user_id = {w}.user_id) END AS path_zones"
    )


# A zone prepared for many point tests: (lat_min, lat_max, lat, lng, dlng_max, cos_lat, hav_max).
_Prepared = tuple[float, float, float, float, float, float, float]


def _prepare(lat: float, lng: float, radius_m: float) -> _Prepared:
    """A zone's bounding box (a few comparisons reject nearly every point outside it) and the
    constants of the exact great-circle test (haversine) for the points within it."""
    angle = radius_m / EARTH_RADIUS_M  # the radius as an angle, in radians
    dlat = math.degrees(angle)
    cos_lat = math.cos(math.radians(lat))
    # The circle's exact longitude half-width; every longitude when it holds a pole.
    spread = math.sin(angle) / cos_lat if cos_lat > 0 else 2.0
    dlng_max = math.degrees(math.asin(spread)) if spread < 1 else 180.0
    return (lat - dlat, lat + dlat, lat, lng, dlng_max, cos_lat, math.sin(angle / 2) ** 2)


def visible_path(path: list[dict[str, Any]] | None, zones: list[list[float]] | None) -> Any:
    """The path as its viewer may see it: without the points inside any of `zones` (the
    `path_zones` selected by `path_zones_for`; None for the owner). One plain loop, as this runs
    over thousands of points per read (bench/privacy_zones.py)."""
    if not path or not zones:
        return path
    prepared = [_prepare(*zone) for zone in zones]
    sin, cos, radians = math.sin, math.cos, math.radians
    kept = []
    for point in path:
        lat, lng = point["lat"], point["lng"]
        for lat_min, lat_max, zlat, zlng, dlng_max, zcos, hav_max in prepared:
            if lat < lat_min or lat > lat_max:
                continue
            dlng = abs(lng - zlng)
            if dlng > 180:  # across the antimeridian
                dlng = 360 - dlng
            if dlng > dlng_max:
                continue
            hav = (
                sin(radians(lat - zlat) / 2) ** 2
                + zcos * cos(radians(lat)) * sin(radians(dlng) / 2) ** 2
            )
            if hav <= hav_max:
                break
        else:
            kept.append(point)
    return kept
