"""Telling the realtime gateways, after commit, that invitations ended.

Best effort by design: a Redis failure is logged and never fails the request or the sweep that
caused it, because every gateway also re-checks its walks in the database (its backstop).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence

from services.api.together.queries import StatusChange
from shared.redis_client import RedisClient
from shared.walk_events import forget_walkers, publish_walk_ended

log = logging.getLogger(__name__)

# A dead Redis must not hold a request (or a sweep) for long.
PUBLISH_TIMEOUT_S = 2.0


async def announce_walk_endings(
    redis: RedisClient, changes: Sequence[StatusChange], signed_out: uuid.UUID | None = None
) -> None:
    """Publish `walk_ended` for each change, in order, and delete what the gateways kept of the
    walk's walkers (their last raw coordinates above all: kept only while the walk lasts); never
    raises. A gateway still relaying deletes them again when the event reaches it (rooms.py).
    `signed_out`: the walker whose sessions ended too, whose socket closes with 4001."""
    published = 0
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            for change in changes:
                await publish_walk_ended(redis, change.invitation_id, change.status, signed_out)
                published += 1
                walkers = (change.inviter_id, change.invitee_id)
                await forget_walkers(redis, change.invitation_id, walkers)
    except Exception as exc:
        log.warning(
            "walk_ended not published for %d invitation(s) (%s); gateways will see it in the "
            "database",
            len(changes) - published,
            type(exc).__name__,
        )
