"""`POST /me/location-pause {"minutes"?}` and `DELETE /me/location-pause`: pause location
sharing for a while or until resumed (위치정보법 §24).

The pause is a row of `location_pauses`, announced after the commit to every gateway
(shared/location_pauses.py), which closes the person's sockets with 4005 within 2 s, refuses
new ones, and relays and records none of their locations. A pause with an end lapses by itself.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.api.web.authentication import current_user
from services.api.web.rate_limit import Limit, enforce
from shared.jsonutil import json_response
from shared.keys import db_pool_key, redis_key
from shared.location_pauses import announce_pause

MAX_MINUTES = 24 * 60
# Each change is announced to every gateway, which looks through its sockets: far above what
# anyone does by hand, and a bound on what a script can make them do.
PAUSE_CHANGES = Limit("location-pause-changes", 60, 3600)


class PauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # None: until resumed.
    minutes: int | None = Field(default=None, ge=1, le=MAX_MINUTES, strict=True)


async def pause_location(request: web.Request) -> web.Response:
    body = PauseIn.model_validate_json(await request.read() or b"{}")
    user_id = current_user(request)
    await enforce(request, (PAUSE_CHANGES, str(user_id)))
    row = await request.app[db_pool_key].fetchrow(
        """INSERT INTO location_pauses AS p (user_id, paused_until, changed_at)
           VALUES ($1, clock_timestamp() + make_interval(mins => $2), clock_timestamp())
           ON CONFLICT (user_id) DO UPDATE
              SET paused_until = EXCLUDED.paused_until, changed_at = EXCLUDED.changed_at
           RETURNING paused_until, changed_at""",
        user_id,
        body.minutes,
    )
    await announce_pause(request.app[redis_key], user_id, row["paused_until"], row["changed_at"])
    return json_response({"paused_until": row["paused_until"]})


async def resume_location(request: web.Request) -> web.Response:
    """204 whether or not a pause was in force."""
    user_id = current_user(request)
    await enforce(request, (PAUSE_CHANGES, str(user_id)))
    row = await request.app[db_pool_key].fetchrow(
        """UPDATE location_pauses
              SET paused_until = clock_timestamp(), changed_at = clock_timestamp()
            WHERE user_id = $1 AND (paused_until IS NULL OR paused_until > clock_timestamp())
        RETURNING paused_until, changed_at""",
        user_id,
    )
    if row is not None:
        await announce_pause(
            request.app[redis_key], user_id, row["paused_until"], row["changed_at"]
        )
    return web.Response(status=204)
