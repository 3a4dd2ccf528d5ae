"""`/invitations`: invite someone to walk together, answer, cancel, finish, and list.

Rules of the state machine live in `invitations_queries` (one conditional UPDATE per move);
here: input checks, the 403/404/409 answer when a move is refused, notifications, and telling
the realtime gateways (after commit) when a walk ends.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import get_args

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.api.filtering.fields import PublicText
from services.api.notifications.notify import notify
from services.api.notifications.push_jobs import push_jobs_key
from services.api.together.endings import announce_walk_endings
from services.api.together.queries import (
    ACCEPT,
    CANCEL,
    DECLINE,
    FINISH,
    Box,
    Role,
    Transition,
    apply_transition,
    create_invitation,
    fetch_invitation_for,
    invitation_json,
    left_accepted,
    list_invitations,
    settle_overdue_between,
    settle_overdue_invitation,
    settle_overdue_of_user,
    status_change,
)
from services.api.visibility import has_blocked, lock_pair, user_visible
from services.api.web.authentication import current_user
from services.api.web.pagination import page_of, page_params
from services.api.web.path_params import path_uuid
from services.api.web.times import Time
from services.api.web.write_limits import count_write
from shared.errors import ApiError, conflict, forbidden, invalid, not_found
from shared.invitations import InvitationStatus, get_invitation
from shared.jsonutil import json_response
from shared.keys import db_pool_key, redis_key, settings_key

MAX_MESSAGE_CHARS = 200
# A scheduled time a little in the past is a slow client, not a mistake.
SCHEDULE_GRACE = dt.timedelta(minutes=1)
# Far enough for any real plan; also keeps expires_at inside what Python can represent.
SCHEDULE_HORIZON = dt.timedelta(days=365)
# Query values → typed choices; no `box` means both.
_BOX_CHOICES: Mapping[str | None, tuple[Box, ...]] = {
    None: ("received", "sent"),
    "received": ("received",),
    "sent": ("sent",),
}
_STATUS_CHOICES: Mapping[str, InvitationStatus] = {s: s for s in get_args(InvitationStatus)}


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    invitee_id: uuid.UUID
    message: PublicText | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)
    scheduled_at: Time | None = None


def _max_walk(request: web.Request) -> dt.timedelta:
    return dt.timedelta(seconds=request.app[settings_key].max_walk_duration_s)


async def send_invitation(request: web.Request) -> web.Response:
    body = InvitationIn.model_validate_json(await request.read())
    user_id = current_user(request)
    if body.invitee_id == user_id:
        raise invalid("invitee_id", "you cannot invite yourself")
    if body.scheduled_at is not None:
        now = dt.datetime.now(dt.UTC)
        if body.scheduled_at < now - SCHEDULE_GRACE:
            raise invalid("scheduled_at", "scheduled_at must not be in the past")
        if body.scheduled_at > now + SCHEDULE_HORIZON:
            raise invalid("scheduled_at", "scheduled_at must be within a year")
    await count_write(request, "invitation", user_id, body.invitee_id)
    settings = request.app[settings_key]
    record: asyncpg.Record | None = None
    refusal: ApiError | None = None
    notification_id: uuid.UUID | None = None
    async with request.app[db_pool_key].acquire() as conn:
        if not await user_visible(conn, body.invitee_id, user_id):
            raise not_found("user")
        if await has_blocked(conn, user_id, body.invitee_id):
            raise conflict("you have blocked this user; unblock them first")
        # Its own commit: an overdue invitation between the two ends even if the insert fails.
        endings = await settle_overdue_between(conn, _max_walk(request), user_id, body.invitee_id)
        try:
            async with conn.transaction():
                # The pair's lock, then the block checks again: a block committed meanwhile is
                # seen here, and one still running waits for this insert and cancels it.
                await lock_pair(conn, user_id, body.invitee_id)
                if not await user_visible(conn, body.invitee_id, user_id):
                    raise not_found("user")
                if await has_blocked(conn, user_id, body.invitee_id):
                    raise conflict("you have blocked this user; unblock them first")
                record = await create_invitation(
                    conn,
                    inviter_id=user_id,
                    invitee_id=body.invitee_id,
                    message=body.message,
                    scheduled_at=body.scheduled_at,
                    ttl=dt.timedelta(seconds=settings.invitation_ttl_s),
                )
                notification_id = await notify(
                    conn,
                    recipient_id=body.invitee_id,
                    type="invitation_received",
                    actor_id=user_id,
                    data={"invitation_id": str(record["id"])},
                )
        except ApiError as exc:  # a block that committed meanwhile
            refusal = exc
        except asyncpg.ForeignKeyViolationError:
            refusal = not_found("user")
        except asyncpg.UniqueViolationError:
            refusal = conflict("you two already have an open invitation")
    await announce_walk_endings(request.app[redis_key], endings)
    if refusal is not None:
        raise refusal
    assert record is not None
    request.app[push_jobs_key].emit([notification_id])
    return json_response(invitation_json(record), status=201)


async def _refusal(
    conn: asyncpg.Connection, transition: Transition, invitation_id: uuid.UUID, user_id: uuid.UUID
) -> ApiError:
    """Why a move did not apply: 404 to outsiders (and to a participant the other one blocked),
    403 to the wrong participant, else 409."""
    invitation = await get_invitation(conn, invitation_id)
    if invitation is None or not invitation.is_participant(user_id):
        return not_found("invitation")
    partner_id = invitation.partner_of(user_id)  # None once the partner deleted their account
    if partner_id is not None and not await user_visible(conn, partner_id, user_id):
        return not_found("invitation")
    role: Role = "inviter" if user_id == invitation.inviter_id else "invitee"
    allowed_now = transition.allowed.get(invitation.status)
    if allowed_now is not None:
        wrong_participant = role not in allowed_now
    else:
        wrong_participant = role not in transition.ever_allowed
    if wrong_participant:
        return forbidden(f"the {role} cannot make this invitation {transition.target}")
    return conflict(f"the invitation is {invitation.status}")


async def _move(request: web.Request, transition: Transition) -> web.Response:
    invitation_id = path_uuid(request, "invitation")
    user_id = current_user(request)
    refusal: ApiError | None = None
    notification_id: uuid.UUID | None = None
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        endings = await settle_overdue_invitation(conn, _max_walk(request), invitation_id)
        record = await apply_transition(conn, transition, invitation_id, user_id)
        if record is None:
            # Not raised here: the settling above must still commit.
            refusal = await _refusal(conn, transition, invitation_id, user_id)
        elif transition is ACCEPT:
            notification_id = await notify(
                conn,
                recipient_id=record["inviter_id"],
                type="invitation_accepted",
                actor_id=user_id,
                data={"invitation_id": str(invitation_id)},
            )
    if record is not None and left_accepted(record):
        endings.append(status_change(record))
    await announce_walk_endings(request.app[redis_key], endings)
    if refusal is not None:
        raise refusal
    assert record is not None
    request.app[push_jobs_key].emit([notification_id])
    return json_response(invitation_json(record))


async def accept_invitation(request: web.Request) -> web.Response:
    return await _move(request, ACCEPT)


async def decline_invitation(request: web.Request) -> web.Response:
    return await _move(request, DECLINE)


async def cancel_invitation(request: web.Request) -> web.Response:
    return await _move(request, CANCEL)


async def finish_invitation(request: web.Request) -> web.Response:
    return await _move(request, FINISH)


async def get_invitation_detail(request: web.Request) -> web.Response:
    invitation_id = path_uuid(request, "invitation")
    async with request.app[db_pool_key].acquire() as conn:
        endings = await settle_overdue_invitation(conn, _max_walk(request), invitation_id)
        record = await fetch_invitation_for(conn, invitation_id, current_user(request))
    await announce_walk_endings(request.app[redis_key], endings)
    if record is None:
        raise not_found("invitation")
    return json_response(invitation_json(record))


async def list_my_invitations(request: web.Request) -> web.Response:
    boxes = _BOX_CHOICES.get(request.query.get("box"))
    if boxes is None:
        raise invalid("box", "box must be received or sent")
    status_text = request.query.get("status")
    status = _STATUS_CHOICES.get(status_text) if status_text is not None else None
    if status_text is not None and status is None:
        raise invalid("status", f"status must be one of {', '.join(_STATUS_CHOICES)}")
    page = page_params(request)
    user_id = current_user(request)
    async with request.app[db_pool_key].acquire() as conn:
        endings = await settle_overdue_of_user(conn, _max_walk(request), user_id)
        records = await list_invitations(conn, user_id, boxes, status, page)
    await announce_walk_endings(request.app[redis_key], endings)
    items = [invitation_json(r) for r in records]
    return json_response(page_of(records, page, items))
