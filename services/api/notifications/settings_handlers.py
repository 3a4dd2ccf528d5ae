"""`/me/notification-settings`: which notification types the caller gets pushed, and quiet hours.

A change applies to pushes already waiting too: every push held for the caller is released and
decided again under the new settings (`push_settings.release_held`), then emitted at once, so
switching quiet hours off sends what they held within moments.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StrictBool, field_validator

from services.api.notifications.notify import NOTIFICATION_TYPES
from services.api.notifications.push_jobs import push_jobs_key
from services.api.notifications.push_settings import (
    PushSettings,
    QuietHours,
    lock_settings,
    read_settings,
    release_held,
    write_settings,
)
from services.api.web.authentication import current_user
from shared.errors import ApiError, invalid, not_found
from shared.jsonutil import json_response
from shared.keys import db_pool_key

_HH_MM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _wall_clock(value: object) -> dt.time:
    if not isinstance(value, str) or not _HH_MM.fullmatch(value):
        raise ValueError('a time is "HH:MM", from 00:00 to 23:59')
    return dt.time.fromisoformat(value)


WallClock = Annotated[dt.time, PlainValidator(_wall_clock)]


class QuietHoursPatch(BaseModel):
    """Either time may be left out to keep the one already set."""

    model_config = ConfigDict(extra="forbid")
    start: WallClock | None = None
    end: WallClock | None = None


class SettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    push: dict[str, StrictBool] = Field(default_factory=dict)
    quiet_hours: QuietHoursPatch | None = None

    @field_validator("push")
    @classmethod
    def _known_types(cls, push: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(push) - set(NOTIFICATION_TYPES))
        if unknown:
            raise ValueError(f"unknown notification types: {', '.join(unknown)}")
        return push

    def applied_to(self, current: PushSettings) -> PushSettings:
        off = (current.off | {t for t, on in self.push.items() if not on}) - {
            t for t, on in self.push.items() if on
        }
        quiet = current.quiet_hours
        if "quiet_hours" in self.model_fields_set:
            quiet = None if self.quiet_hours is None else _merged(self.quiet_hours, quiet)
        return PushSettings(frozenset(off), quiet)


def _needed(field: str) -> ApiError:
    return invalid(field, f"{field} is needed, as no quiet hours are set")


def _merged(patch: QuietHoursPatch, current: QuietHours | None) -> QuietHours:
    """A time left out keeps the one set; with none set, both are needed (422 naming the one
    missing): the server picks no time the person did not choose."""
    start = patch.start or (current.start if current else None)
    end = patch.end or (current.end if current else None)
    if start is None:
        raise _needed("quiet_hours.start")
    if end is None:
        raise _needed("quiet_hours.end")
    if start == end:
        raise invalid("quiet_hours", "quiet_hours start and end must differ")
    return QuietHours(start, end)


async def get_notification_settings(request: web.Request) -> web.Response:
    async with request.app[db_pool_key].acquire() as conn:
        settings = await read_settings(conn, current_user(request))
    return json_response(settings.as_json())


async def patch_notification_settings(request: web.Request) -> web.Response:
    patch = SettingsPatch.model_validate_json(await request.read())
    user_id: uuid.UUID = current_user(request)
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        try:
            current = await lock_settings(conn, user_id)
        except asyncpg.ForeignKeyViolationError:  # the account was deleted meanwhile
            raise not_found("user") from None
        settings = patch.applied_to(current)
        await write_settings(conn, user_id, settings)
        released = await release_held(conn, user_id)
    request.app[push_jobs_key].emit(released)
    return json_response(settings.as_json())
