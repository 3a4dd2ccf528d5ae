"""The invitation lookup both services need: the API's state machine and the gateway's checks."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import asyncpg

from shared.blocks import unblocked_between

InvitationStatus = Literal["pending", "accepted", "declined", "cancelled", "expired", "finished"]


@dataclass(frozen=True, slots=True)
class Invitation:
    """`inviter_id` / `invitee_id` are None once that person deleted their account (the
    deletion ends the invitation first, so only an ended invitation has a None)."""

    id: uuid.UUID
    inviter_id: uuid.UUID | None
    invitee_id: uuid.UUID | None
    status: InvitationStatus
    message: str | None
    scheduled_at: dt.datetime | None
    created_at: dt.datetime
    responded_at: dt.datetime | None
    ended_at: dt.datetime | None
    expires_at: dt.datetime

    def is_participant(self, user_id: uuid.UUID) -> bool:
        return user_id in (self.inviter_id, self.invitee_id)

    def partner_of(self, user_id: uuid.UUID) -> uuid.UUID | None:
        return self.invitee_id if user_id == self.inviter_id else self.inviter_id


INVITATION_COLUMNS = (
    "id, inviter_id, invitee_id, status, message, scheduled_at, created_at, responded_at, "
    "ended_at, expires_at"
)


def invitation_from_record(record: asyncpg.Record) -> Invitation:
    return Invitation(**{key: record[key] for key in Invitation.__slots__})


async def get_invitation(
    conn: asyncpg.pool.PoolConnectionProxy | asyncpg.Connection | asyncpg.Pool,
    invitation_id: uuid.UUID,
) -> Invitation | None:
    record = await conn.fetchrow(
        f"SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = $1", invitation_id
    )
    return invitation_from_record(record) if record else None


async def get_invitations(
    conn: asyncpg.pool.PoolConnectionProxy | asyncpg.Connection | asyncpg.Pool,
    invitation_ids: Collection[uuid.UUID],
    *,
    unblocked_only: bool = False,
) -> dict[uuid.UUID, Invitation]:
    """Many lookups in one round trip; an id with no invitation is absent from the result, and
    so, with `unblocked_only`, is one between two people either of whom blocked the other."""
    condition = f" AND {unblocked_between('inviter_id', 'invitee_id')}" if unblocked_only else ""
    records = await conn.fetch(
        f"SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = ANY($1::uuid[]){condition}",
        list(invitation_ids),
    )
    return {record["id"]: invitation_from_record(record) for record in records}
