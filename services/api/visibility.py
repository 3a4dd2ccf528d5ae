"""Who may see what, in one place, so the rules cannot drift between routes.

- A walk: its owner; anyone if public; followers of the owner if "followers" (a walk the caller
  may not see is 404 everywhere). One SQL condition, used by every query that returns or names
  a walk.
- Its path: the owner sees all of it; anyone else sees it without the points inside the owner's
  privacy zones. Trimmed when read, so a zone also covers walks recorded before it, and a zone
  removed shows their points again. Every query that returns a path selects `path_zones_for`
  beside it and answers `visible_path(...)`.
- A user, in search: one SQL condition, `user_findable_by`.
"""

from __future__ import annotations

import math
from typing import Any

EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG)


def walk_visible_to(walk_alias: str, viewer_param: str) -> str:
    """SQL condition: the walk `walk_alias` is visible to the user id bound at `viewer_param`."""
    w, v = walk_alias, viewer_param
    return (
        f"({w}.user_id = {v} OR {w}.visibility = 'public' OR ({w}.visibility = 'followers' "
        f"AND EXISTS (SELECT 1 FROM follows vf WHERE vf.follower_id = {v} "
        f"AND vf.followee_id = {w}.user_id)))"
    )


def user_findable_by(user_alias: str, viewer_param: str) -> str:
    """SQL condition: the user `user_alias` may be listed to the viewer at `viewer_param` when
    looking for people (search): anyone but the viewer. A deleted account has no row left."""
    return f"({user_alias}.id <> {viewer_param})"


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
