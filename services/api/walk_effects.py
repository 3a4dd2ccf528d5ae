"""What a recorded or deleted walk sets off beyond its own row: badges and weekly rankings.

The walks handlers call these three hooks; the rules live in the badges and rankings modules.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import asyncpg
from aiohttp import web


@dataclass(frozen=True, slots=True)
class WalkFacts:
    id: uuid.UUID
    user_id: uuid.UUID
    started_at: dt.datetime
    ended_at: dt.datetime
    distance_m: float
    invitation_id: uuid.UUID | None
    created_at: dt.datetime


async def in_walk_transaction(conn: asyncpg.Connection, walk: WalkFacts) -> list[uuid.UUID]:
    """Inside the walk's own transaction: award badges; return notification ids to push."""
    return []


async def after_walk_committed(app: web.Application, walk: WalkFacts) -> None:
    """After commit: update the weekly rankings and notify the overtaken. Never raises."""


async def after_walk_deleted(app: web.Application, walk: WalkFacts) -> None:
    """After a walk's deletion is committed: take it out of the rankings. Never raises."""
