"""Who may see what, in one place, so the rules cannot drift between routes.

- A user, and everything of theirs (profile, walks, dogs, badges, lists, invitations), is hidden
  from anyone they have blocked: `user_visible_to`. The blocker still sees the blocked person
  (to unblock them).
- Between two people either of whom blocked the other, nothing connects: neither appears to the
  other in a list, the feed or search, and neither may follow or invite the other:
  `unblocked_between`. A block and an invitation between the same two take `lock_pair` first,
  so that a block racing an invitation always ends it.
- A walk: its owner; anyone the owner has not blocked if public; the owner's followers if
  "followers" (a walk the caller may not see is 404 everywhere): `walk_visible_to`.
- Its path: the owner sees all of it; anyone else sees it without the points inside the owner's
  privacy zones, and, for a walk together, inside the partner's (but not the viewer's own).
  What a zone hides is its secret hidden area (a larger circle around an offset centre) plus a
  stretch drawn per walk at each edge, so no number of walks outlines the given point.
  Trimmed when read, so a zone also covers walks recorded before it, and a zone removed shows
  their points again. Every query that returns a path selects `path_zones_for` beside it and
  answers `visible_path(path, path_zones, walk id)`.
- A person in a list that belongs to someone else (followers, following, comments) and in its
  count: `listed_to` (neither blocked the other); the counts shown beside a list count through
  it too (`follow_count_seen_by`), so a count never counts someone the list leaves out.
- A user, in search: one SQL condition, `user_findable_by`; in the weekly ranking (read from
  Redis), the same people left out as a set, `blocked_either_way`.
- What everyone may see of someone's walking, the weekly rankings and the badges, counts their
  public walks only (`COUNTED_VISIBILITIES`): a private walk must not show up anywhere as a
  distance, a count or a day walked, and a followers-only one would show it to strangers.
- A notification: shown (and pushed) to its recipient unless a block stands between them and
  its actor, either way: `notification_shown_to`. Hidden, not deleted: a lifted block shows it
  again.
- Moderation (CONTRACT section 6): a suspended or banned person (`users.suspended_until` later
  than now; 'infinity' for a ban) and everything of theirs is hidden from everyone else, by the
  same conditions that apply blocks (`user_visible_to`, `unblocked_between`, `user_findable_by`,
  `notification_shown_to`, `blocked_either_way`), so every route inherits it, and all of it
  returns when the suspension ends. A hidden walk or comment (`hidden_reason`) is seen only by
  its author (`walk_audience_includes`, `comment_visible_to`), and counts drop it
  (`seen_like_count`, `seen_comment_count`). Staff read through the console's own queries.

The SQL conditions are used by every query that returns or names a user or a walk. Their
arguments are SQL expressions: a column such as `w.user_id`, or a bound parameter such as `$1`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import uuid
from typing import Any

import asyncpg

# Shared with the gateway, which refuses a walk across a block (shared/blocks.py).
from shared.blocks import unblocked_between as neither_blocked

EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG)
COUNTED_VISIBILITIES = ["public"]


# The ids of the people suspended or banned right now (a partial index keeps this small).
SUSPENDED_IDS = "SELECT vs.id FROM users vs WHERE vs.suspended_until > now()"


def not_suspended(user: str) -> str:
    """SQL condition: the user `user` is not suspended (nor banned) now."""
    return (
        f"NOT EXISTS (SELECT 1 FROM users vs WHERE vs.id = {user} AND vs.suspended_until > now())"
    )


def user_visible_to(user: str, viewer: str) -> str:
    """SQL condition: `viewer` may see the user `user` and what is theirs (not blocked by them,
    and not suspended)."""
    return (
        f"NOT EXISTS (SELECT 1 FROM blocks vb WHERE vb.blocker_id = {user} "
        f"AND vb.blocked_id = {viewer}) AND {not_suspended(user)}"
    )


def unblocked_between(a: str, b: str) -> str:
    """SQL condition: neither of the users `a` and `b` has blocked the other (`neither_blocked`,
    the rule the gateway applies too) and neither is suspended."""
    return f"{neither_blocked(a, b)} AND {not_suspended(a)} AND {not_suspended(b)}"


def listed_to(user: str, viewer: str) -> str:
    """SQL condition: the user `user` may appear to `viewer` in a list of people that belongs to
    someone else (their followers, whom they follow, the comments on their walk), and so in any
    count of that list: neither blocked the other. A list and its count use this same rule, so
    a count never counts someone the list leaves out."""
    return unblocked_between(user, viewer)


def follow_count_seen_by(user: str, side: str, viewer: str) -> str:
    """SQL scalar: how many followers (`side` "followers") or followees ("following") of `user`
    `viewer` may see listed (`listed_to`), the number shown beside the list."""
    mine, theirs = {
        "followers": ("followee_id", "follower_id"),
        "following": ("follower_id", "followee_id"),
    }[side]
    return (
        f"(SELECT count(*) FROM follows vc WHERE vc.{mine} = {user} "
        f"AND {listed_to(f'vc.{theirs}', viewer)})"
    )


def comment_shown_to(comment: str, viewer: str) -> str:
    """SQL condition: the comment aliased `comment` (on a walk the viewer may see) is shown to
    `viewer` in the walk's thread: it is visible to them (`comment_visible_to`: not hidden, its
    author not suspended, or it is their own) and its author is `listed_to` them (a blocker's
    words never reach the blocked person under the blocker's name, nor the other way round).
    The interactions poll lists comments, and counts them (`comment_count_shown_to`), through
    this one condition, so the count beside a thread is the thread's length."""
    return f"({comment_visible_to(comment, viewer)} AND {listed_to(f'{comment}.user_id', viewer)})"


def comment_count_shown_to(walk: str, viewer: str) -> str:
    """SQL scalar: the walk's `comment_count` less the comments `viewer` is not shown
    (`comment_shown_to`), so the count beside a thread is the thread's length."""
    return (
        f"({walk}.comment_count - (SELECT count(*) FROM comments vcc "
        f"WHERE vcc.walk_id = {walk}.id AND NOT {comment_shown_to('vcc', viewer)}))"
    )


def walk_audience_includes(walk: str, viewer: str) -> str:
    """SQL condition: the walk's `visibility` lets `viewer` see it. Only for a query that has
    already required `user_visible_to` of the walk's owner (the feed does it once per author
    instead of once per walk); everything else uses `walk_visible_to`."""
    w, v = walk, viewer
    return (
        f"({w}.user_id = {v} OR ({w}.hidden_reason IS NULL AND ({w}.visibility = 'public' "
        f"OR ({w}.visibility = 'followers' "
        f"AND EXISTS (SELECT 1 FROM follows vf WHERE vf.follower_id = {v} "
        f"AND vf.followee_id = {w}.user_id)))))"
    )


def comment_visible_to(comment: str, viewer: str) -> str:
    """SQL condition: the comment aliased `comment` (on a walk the viewer may see) is shown to
    `viewer`: its author sees it always; others unless it is hidden or its author suspended."""
    c, v = comment, viewer
    return f"({c}.user_id = {v} OR ({c}.hidden_reason IS NULL AND {not_suspended(c + '.user_id')}))"


def seen_like_count(walk: str) -> str:
    """SQL expression: the walk's like count without the likes of suspended people (one probe
    a suspended person, not one a like)."""
    w = walk
    return (
        f"({w}.like_count - (SELECT count(*) FROM users vs JOIN likes vl "
        f"ON vl.walk_id = {w}.id AND vl.user_id = vs.id WHERE vs.suspended_until > now()))::int"
    )


def seen_comment_count(walk: str) -> str:
    """SQL expression: the walk's comment count without hidden comments and those of suspended
    people."""
    w = walk
    return (
        f"({w}.comment_count - (SELECT count(*) FROM comments vc WHERE vc.walk_id = {w}.id "
        f"AND vc.hidden_reason IS NOT NULL) - (SELECT count(*) FROM users vs JOIN comments vc "
        f"ON vc.user_id = vs.id AND vc.walk_id = {w}.id "
        f"WHERE vs.suspended_until > now() AND vc.hidden_reason IS NULL))::int"
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


async def lock_pair(conn: asyncpg.Connection, a: uuid.UUID, b: uuid.UUID) -> None:
    """Hold the pair {a, b} until the transaction ends: a block between the two and anything
    that connects them (an invitation) take it first, in the same transaction as their check
    and their write, so one of them always sees the other's commit. Without it an invitation
    checked before a block commits, and inserted after the block's cancel ran, survives the
    block. A transaction-scoped advisory lock on the ordered pair: no row is locked, and the
    order of the two ids does not matter."""
    low, high = sorted((a, b))
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('pair:' || $1::uuid || ':' || $2::uuid, 0))",
        low,
        high,
    )


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
    return (
        f"({u}.id <> {v} AND {u}.id NOT IN ({_blocked_either_way(v)}) "
        f"AND ({u}.suspended_until IS NULL OR {u}.suspended_until <= now()))"
    )


def notification_shown_to(notification: str, recipient: str) -> str:
    """SQL condition: the notification aliased `notification`, whose recipient is `recipient`
    (`$1` for one person's list, `n.user_id` for a batch of pushes), is shown and pushed: it has
    no actor, or no block stands between the actor and the recipient. Its count, its page and its
    push all use this, so the unread count never counts what the list leaves out."""
    n = notification
    return (
        f"({n}.actor_id IS NULL OR ({n}.actor_id NOT IN ({_blocked_either_way(recipient)}) "
        f"AND {n}.actor_id NOT IN ({SUSPENDED_IDS})))"
    )


async def blocked_either_way(
    conn: asyncpg.Pool | asyncpg.Connection, viewer_id: uuid.UUID
) -> set[uuid.UUID]:
    """Everyone `viewer_id` blocked or was blocked by, and everyone suspended: left out of a list
    read from Redis (the weekly ranking), as `unblocked_between` leaves them out of one read
    from SQL."""
    rows = await conn.fetch(f"{_blocked_either_way('$1')} UNION ALL {SUSPENDED_IDS}", viewer_id)
    return {row[0] for row in rows}


# The further stretch of path hidden at each edge of a zone, per walk: up to this share of the
# zone's given radius, drawn from the zone's `trim_seed` and the walk's id.
EDGE_TRIM_RADII = 0.5


def path_zones_for(walk_alias: str, viewer_param: str) -> str:
    """SQL select item `path_zones`: what `visible_path` hides for a viewer other than the
    walk's owner, NULL for the owner (who sees the whole path) or without zones. The zones of
    the owner and, for a walk together (`invitation_id`), of the partner, who walked the same
    way from the same door; never the viewer's own. Each as `[lat, lng, radius_m, edge_m,
    seed]`: the zone's secret hidden circle (services/api/walks/privacy_zones.py, never the
    circle its owner gave), the most each edge may hide beyond it, and the seed of that draw."""
    w, v = walk_alias, viewer_param
    return (
        f"CASE WHEN {w}.user_id = {v} THEN NULL ELSE "
        f"(SELECT jsonb_agg(jsonb_build_array(pz.hidden_lat, pz.hidden_lng, pz.hidden_radius_m, "
        f"pz.radius_m * {EDGE_TRIM_RADII}, encode(pz.trim_seed, 'hex'))) "
        f"FROM privacy_zones pz WHERE pz.user_id = {w}.user_id "
        f"OR (pz.user_id <> {v} AND pz.user_id IN (SELECT unnest(ARRAY[vi.inviter_id, "
        f"vi.invitee_id]) FROM invitations vi WHERE vi.id = {w}.invitation_id))) END AS path_zones"
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


def _edge_trims(seed_hex: str, walk_id: uuid.UUID, edge_m: float) -> tuple[float, float]:
    """The extra metres hidden before a stretch in this zone and after it, for this walk: the
    same on every read (a keyed hash of the walk's id), different from walk to walk, and
    unknowable without the zone's secret seed."""
    digest = hmac.new(bytes.fromhex(seed_hex), walk_id.bytes, hashlib.sha256).digest()
    before, after = int.from_bytes(digest[:8]), int.from_bytes(digest[8:16])
    return edge_m * before / 2**64, edge_m * after / 2**64


def _metres(a: dict[str, Any], b: dict[str, Any]) -> float:
    """The great-circle distance between two points of a path (haversine)."""
    lat1, lat2 = math.radians(a["lat"]), math.radians(b["lat"])
    hav = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin(math.radians(b["lng"] - a["lng"]) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(hav)))


def visible_path(
    path: list[dict[str, Any]] | None,
    zones: list[list[Any]] | None,
    walk_id: uuid.UUID | None = None,
) -> Any:
    """The path as its viewer may see it: without the points inside any of `zones` (the
    `path_zones` selected by `path_zones_for`; None for the owner), and, for a zone with an
    edge allowance and a seed, without a further stretch drawn for this walk (`walk_id`) before
    and after each run of hidden points, so the visible ends do not lie on the zone's circle
    either. A zone given as `[lat, lng, radius_m]` hides its circle exactly. One plain loop, as
    this runs over thousands of points per read (bench/privacy_zones.py)."""
    if not path or not zones:
        return path
    prepared = [(*_prepare(*zone[:3]), z) for z, zone in enumerate(zones)]
    sin, cos, radians = math.sin, math.cos, math.radians
    hidden_by: list[int] = []  # the zone that hides each point, or -1
    for point in path:
        lat, lng = point["lat"], point["lng"]
        for lat_min, lat_max, zlat, zlng, dlng_max, zcos, hav_max, z in prepared:
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
                hidden_by.append(z)
                break
        else:
            hidden_by.append(-1)
    if max(hidden_by) < 0:
        return path
    hidden = [z >= 0 for z in hidden_by]
    if walk_id is not None:
        _hide_edges(path, zones, hidden_by, hidden, walk_id)
    return [point for point, gone in zip(path, hidden, strict=True) if not gone]


def _hide_edges(
    path: list[dict[str, Any]],
    zones: list[list[Any]],
    hidden_by: list[int],
    hidden: list[bool],
    walk_id: uuid.UUID,
) -> None:
    """Widen each run of points hidden by a zone: the stretch before it and the one after it,
    each as long as drawn for this walk and zone (`_edge_trims`), the longest of the run's
    zones."""
    trims: dict[int, tuple[float, float]] = {}
    for z, zone in enumerate(zones):
        if len(zone) >= 5:
            trims[z] = _edge_trims(zone[4], walk_id, zone[3])
    if not trims:
        return
    n, i = len(path), 0
    while i < n:
        if hidden_by[i] < 0:
            i += 1
            continue
        start = i
        while i < n and hidden_by[i] >= 0:
            i += 1
        run = {hidden_by[j] for j in range(start, i)}
        before = max((trims[z][0] for z in run if z in trims), default=0.0)
        after = max((trims[z][1] for z in run if z in trims), default=0.0)
        walked, j = 0.0, start - 1
        while j >= 0:
            walked += _metres(path[j], path[j + 1])
            if walked > before:
                break
            hidden[j] = True
            j -= 1
        walked, j = 0.0, i
        while j < n:
            walked += _metres(path[j - 1], path[j])
            if walked > after:
                break
            hidden[j] = True
            j += 1
