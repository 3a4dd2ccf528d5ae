"""`POST /realtime/tickets`: a one-use ticket for the walk-together socket (CONTRACT section 4).

A browser keeps the URL of every WebSocket it opens (its console, a proxy's log), so a web build
opens the socket with `?ticket=` instead of its access token: the ticket works once, for one
walk, within 30 s (shared/realtime_tickets.py), and the gateway takes it from Redis.

Issued to a participant of an accepted walk, as the gateway would admit them: 404 `not_found`
for an unknown invitation, one the caller is not in, or one whose other walker blocked the
caller (as the invitation routes answer); 409 `conflict` for the caller's own invitation that is
not `accepted` (pending, or over). Each user may ask for `TICKETS_PER_MINUTE` a minute: a ticket
is a Redis key for its 30 s.
"""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from services.api.visibility import user_visible
from services.api.web.authentication import current_session, current_user
from services.api.web.rate_limit import Limit, enforce
from shared.errors import conflict, not_found
from shared.invitations import get_invitation
from shared.jsonutil import json_response
from shared.keys import db_pool_key, redis_key
from shared.realtime_tickets import (
    TICKET_TTL_S,
    TicketHolder,
    new_ticket,
    ticket_key,
    ticket_value,
)

TICKETS_PER_MINUTE = 60


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    invitation_id: uuid.UUID


async def create_ticket(request: web.Request) -> web.Response:
    body = TicketIn.model_validate_json(await request.read())
    user_id = current_user(request)
    await enforce(request, (Limit("realtime-ticket", TICKETS_PER_MINUTE, 60), str(user_id)))
    async with request.app[db_pool_key].acquire() as conn:
        invitation = await get_invitation(conn, body.invitation_id)
        if invitation is None or not invitation.is_participant(user_id):
            raise not_found("invitation")
        partner_id = invitation.partner_of(user_id)
        if partner_id is not None and not await user_visible(conn, partner_id, user_id):
            raise not_found("invitation")
    if invitation.status != "accepted":
        raise conflict(f"the invitation is {invitation.status}")
    ticket = new_ticket()
    holder = TicketHolder(user_id, invitation.id, current_session(request))
    await request.app[redis_key].set(ticket_key(ticket), ticket_value(holder), ex=TICKET_TTL_S)
    return json_response({"ticket": ticket, "expires_in": TICKET_TTL_S}, status=201)
