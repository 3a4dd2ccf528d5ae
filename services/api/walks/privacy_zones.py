"""Privacy zones: the circles (home, work) that a person's walk paths hide from others (served
at `/me/privacy-zones` by privacy_zone_handlers.py).

Only the zones are kept here; the trim itself happens when a path is read
(`services/api/visibility.py`), so adding or removing a zone changes every walk at once.

What a zone hides is not the circle the owner gave: a circle around the given point would be
outlined by where every trimmed walk begins and ends, and a stranger fitting a circle to those
points finds the home within metres. Each zone keeps, secret and drawn once (`draw_hidden_area`),
a larger circle that holds the given one but is centred `OFFSET_RADII` radii away from the given
point in a random direction, and a seed that draws a further stretch hidden at each edge of each
walk. However many walks a stranger reads, the best they can fit is the hidden centre, more than
a radius from home. The owner's list shows what the owner entered, never the hidden area.
"""

from __future__ import annotations

import math
import secrets
import uuid
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from services.api.visibility import EARTH_RADIUS_M

MAX_ZONES_PER_USER = 10
ZONE_COLUMNS = "id, lat, lng, radius_m"
# The hidden area, in radii of the given circle (the migration that added it draws the same):
# its centre this far from the given point, its edge this far beyond the given circle.
OFFSET_RADII = (1.3, 1.6)
MARGIN_RADII = (1.1, 1.3)

_random = secrets.SystemRandom()


def destination(lat: float, lng: float, bearing: float, metres: float) -> tuple[float, float]:
    """The point `metres` from (lat, lng) along the great circle at `bearing` (radians)."""
    phi, lam, delta = math.radians(lat), math.radians(lng), metres / EARTH_RADIUS_M
    phi2 = math.asin(
        math.sin(phi) * math.cos(delta) + math.cos(phi) * math.sin(delta) * math.cos(bearing)
    )
    lam2 = lam + math.atan2(
        math.sin(bearing) * math.sin(delta) * math.cos(phi),
        math.cos(delta) - math.sin(phi) * math.sin(phi2),
    )
    lng2 = (math.degrees(lam2) + 180) % 360 - 180
    return math.degrees(phi2), lng2


def draw_hidden_area(lat: float, lng: float, radius_m: float) -> tuple[float, float, float]:
    """(lat, lng, radius_m) of the circle a new zone hides: it holds the whole given circle, and
    its centre lies `OFFSET_RADII` radii from the given point, in a random direction."""
    offset_m = radius_m * _random.uniform(*OFFSET_RADII)
    centre = destination(lat, lng, _random.uniform(0, 2 * math.pi), offset_m)
    return (*centre, offset_m + radius_m * _random.uniform(*MARGIN_RADII))


class ZoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, strict=True)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False, strict=True)
    radius_m: float = Field(ge=100, le=1000, allow_inf_nan=False, strict=True)


async def list_zones(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {ZONE_COLUMNS} FROM privacy_zones WHERE user_id = $1 ORDER BY created_at, id",
        user_id,
    )
    return [dict(r) for r in rows]


async def add_zone(
    conn: asyncpg.Connection, user_id: uuid.UUID, zone: ZoneIn
) -> dict[str, Any] | None:
    """The new zone, or None when the user already has `MAX_ZONES_PER_USER`. Call in a
    transaction: the user's row is locked so that concurrent adds cannot pass the limit together
    (FOR NO KEY UPDATE: rows that merely reference the user are not held up)."""
    await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", user_id)
    row = await conn.fetchrow(
        f"""INSERT INTO privacy_zones
                (user_id, lat, lng, radius_m, hidden_lat, hidden_lng, hidden_radius_m)
            SELECT $1, $2, $3, $4, $6, $7, $8
            WHERE (SELECT count(*) FROM privacy_zones WHERE user_id = $1) < $5
            RETURNING {ZONE_COLUMNS}""",
        user_id,
        zone.lat,
        zone.lng,
        zone.radius_m,
        MAX_ZONES_PER_USER,
        *draw_hidden_area(zone.lat, zone.lng, zone.radius_m),
    )
    return dict(row) if row else None


async def delete_zone(conn: asyncpg.Connection, user_id: uuid.UUID, zone_id: uuid.UUID) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM privacy_zones WHERE id = $1 AND user_id = $2 RETURNING true", zone_id, user_id
    )
    return deleted is not None
