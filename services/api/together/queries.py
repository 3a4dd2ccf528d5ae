"""SQL for walk-together invitations: creation, the state machine, settling overdue rows, lists.

Every state change is one conditional `UPDATE ... WHERE id = $1 AND status = ... RETURNING`, so
two racing requests (or an API instance and another's sweeper) change a row at most once.

An invitation ends by itself in two ways, and its `ended_at` is then the boundary it crossed,
not the moment someone noticed, so the answer does not depend on when a sweep ran:
- `pending` past `expires_at` becomes `expired`, `ended_at = expires_at`;
- `accepted` past `responded_at + max walk` becomes `finished`, `ended_at = responded_at + max`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from services.api.visibility import user_visible_to
from services.api.web.pagination import Page
from services.api.web.presenters import user_columns, user_summary
from shared.invitations import InvitationStatus

Role = Literal["inviter", "invitee"]
Box = Literal["received", "sent"]

BOX_COLUMNS: Mapping[Box, str] = {"received": "invitee_id", "sent": "inviter_id"}
# The other participant, as seen from each box.
_PARTNER_COLUMNS: Mapping[Box, str] = {"received": "inviter_id", "sent": "invitee_id"}
_ROLE_COLUMNS: Mapping[Role, str] = {"inviter": "inviter_id", "invitee": "invitee_id"}

_PRESENTED_COLUMNS = (
    "i.id, i.status, i.message, i.scheduled_at, i.created_at, i.responded_at, i.ended_at, "
    f"i.expires_at, {user_columns('inviter', 'inviter')}, {user_columns('invitee', 'invitee')}"
)


def _presented(source: str) -> str:
    """SELECT an invitation with both users embedded, from `source` aliased `i`; a user who
    deleted their account is embedded as null."""
    return (
        f"SELECT {_PRESENTED_COLUMNS} FROM {source} i "
        "LEFT JOIN users inviter ON inviter.id = i.inviter_id "
        "LEFT JOIN users invitee ON invitee.id = i.invitee_id"
    )


def invitation_json(record: Any) -> dict[str, Any]:
    """The contract's Invitation object, from a row selected by `_presented`."""
    return {
        "id": record["id"],
        "inviter": user_summary(record, "inviter"),
        "invitee": user_summary(record, "invitee"),
        "status": record["status"],
        "message": record["message"],
        "scheduled_at": record["scheduled_at"],
        "created_at": record["created_at"],
        "responded_at": record["responded_at"],
        "ended_at": record["ended_at"],
        "expires_at": record["expires_at"],
    }


@dataclass(frozen=True, slots=True)
class StatusChange:
    """An invitation that just reached `status`: what the realtime gateways are told."""

    invitation_id: uuid.UUID
    status: InvitationStatus
    # The walkers, whose live copies in Redis go with the walk (None: an erased account).
    inviter_id: uuid.UUID | None = None
    invitee_id: uuid.UUID | None = None


def _between(a: str, b: str) -> str:
    """SQL: the invitation is between users `a` and `b`, either way round (the expressions of
    `invitations_open_pair_key`, so the index answers it)."""
    return (
        f"LEAST(inviter_id, invitee_id) = LEAST({a}::uuid, {b}::uuid) "
        f"AND GREATEST(inviter_id, invitee_id) = GREATEST({a}::uuid, {b}::uuid)"
    )


def _changes(records: list[asyncpg.Record]) -> list[StatusChange]:
    return [status_change(r) for r in records]


def status_change(record: Any) -> StatusChange:
    """The change a row RETURNING (at least) id, status, inviter_id and invitee_id made."""
    return StatusChange(record["id"], record["status"], record["inviter_id"], record["invitee_id"])


async def create_invitation(
    conn: asyncpg.Connection,
    *,
    inviter_id: uuid.UUID,
    invitee_id: uuid.UUID,
    message: str | None,
    scheduled_at: dt.datetime | None,
    ttl: dt.timedelta,
) -> asyncpg.Record:
    """Insert a pending invitation, answering it presented.

    It expires `ttl` after it was made, or `ttl` after the scheduled time when that is later:
    an invitation for tomorrow morning stays answerable until tomorrow morning + ttl.
    Raises `asyncpg.UniqueViolationError` when the pair already has an open invitation
    (`invitations_open_pair_key`) and `asyncpg.ForeignKeyViolationError` for an unknown invitee.
    """
    record: asyncpg.Record = await conn.fetchrow(
        f"""WITH made AS (SELECT clock_timestamp() AS at),
                 inserted AS (
                     INSERT INTO invitations
                         (inviter_id, invitee_id, message, scheduled_at, created_at, expires_at)
                     SELECT $1, $2, $3, $4, made.at,
                            GREATEST(made.at, COALESCE($4, made.at)) + $5::interval
                     FROM made
                     RETURNING *)
            {_presented("inserted")}""",
        inviter_id,
        invitee_id,
        message,
        scheduled_at,
        ttl,
    )
    return record


async def fetch_invitation_for(
    conn: asyncpg.Connection, invitation_id: uuid.UUID, user_id: uuid.UUID
) -> asyncpg.Record | None:
    """The invitation presented, if `user_id` takes part in it and may see the other participant
    (else None, as if missing)."""
    partner = "CASE WHEN i.inviter_id = $2 THEN i.invitee_id ELSE i.inviter_id END"
    record: asyncpg.Record | None = await conn.fetchrow(
        f"""{_presented("invitations")}
            WHERE i.id = $1 AND $2 IN (i.inviter_id, i.invitee_id)
              AND {user_visible_to(partner, "$2")}""",
        invitation_id,
        user_id,
    )
    return record


@dataclass(frozen=True, slots=True)
class Transition:
    """One move of the state machine: who may make it from which status, and what it stamps."""

    target: InvitationStatus
    allowed: Mapping[InvitationStatus, frozenset[Role]]
    stamp: Literal["responded_at", "ended_at"]

    @property
    def ever_allowed(self) -> frozenset[Role]:
        return frozenset().union(*self.allowed.values())

    @property
    def condition(self) -> str:
        """SQL: the row (id `$1`) is in a status this move starts from, and `$2` may make it."""
        cases = []
        for status, roles in self.allowed.items():
            columns = ", ".join(_ROLE_COLUMNS[role] for role in sorted(roles))
            cases.append(f"(status = '{status}' AND $2 IN ({columns}))")
        return " OR ".join(cases)


BOTH: frozenset[Role] = frozenset({"inviter", "invitee"})
ACCEPT = Transition("accepted", {"pending": frozenset({"invitee"})}, "responded_at")
DECLINE = Transition("declined", {"pending": frozenset({"invitee"})}, "responded_at")
CANCEL = Transition("cancelled", {"pending": frozenset({"inviter"}), "accepted": BOTH}, "ended_at")
FINISH = Transition("finished", {"accepted": BOTH}, "ended_at")
# An account being deleted cancels each of its open invitations, on whichever side it is.
WITHDRAW = Transition("cancelled", {"pending": BOTH, "accepted": BOTH}, "ended_at")


async def apply_transition(
    conn: asyncpg.Connection,
    transition: Transition,
    invitation_id: uuid.UUID,
    user_id: uuid.UUID,
) -> asyncpg.Record | None:
    """Make the move if the row allows it, answering it presented; None if it does not."""
    record: asyncpg.Record | None = await conn.fetchrow(
        f"""WITH changed AS (
                UPDATE invitations SET status = $3, {transition.stamp} = now()
                WHERE id = $1 AND ({transition.condition})
                RETURNING *)
            {_presented("changed")}""",
        invitation_id,
        user_id,
        transition.target,
    )
    return record


async def cancel_open_between(
    conn: asyncpg.Connection, a: uuid.UUID, b: uuid.UUID
) -> list[StatusChange]:
    """Cancel the pair's open invitation, whoever sent it, as `/cancel` would (a block does
    this: it is not a move one participant asks for, so the state machine's roles do not apply).
    Returns the walk it ended, if it was under way: what the gateways are told."""
    records = await conn.fetch(
        f"""UPDATE invitations SET status = $3, {CANCEL.stamp} = now()
            WHERE {_between("$1", "$2")} AND status = ANY($4::text[])
            RETURNING id, status, responded_at, inviter_id, invitee_id""",
        a,
        b,
        CANCEL.target,
        list(CANCEL.allowed),
    )
    return _changes([r for r in records if left_accepted(r)])


def left_accepted(record: Any) -> bool:
    """Whether this just-changed row ended a walk (only an accepted one has `responded_at`
    among those that can be finished or cancelled)."""
    return record["status"] in ("finished", "cancelled") and record["responded_at"] is not None


async def withdraw_user(
    conn: asyncpg.Connection, max_walk: dt.timedelta, user_id: uuid.UUID
) -> list[StatusChange]:
    """Cancel every open invitation of the user, sent or received, as `/cancel` would (overdue
    ones end as they would have by themselves); the walks that ended, to announce after commit.
    Rows in id order, so two of these never deadlock."""
    endings = await settle_overdue_of_user(conn, max_walk, user_id)
    open_ids = await conn.fetch(
        """SELECT id FROM invitations
           WHERE (inviter_id = $1 OR invitee_id = $1) AND status IN ('pending', 'accepted')
           ORDER BY id FOR UPDATE""",
        user_id,
    )
    for row in open_ids:
        record = await apply_transition(conn, WITHDRAW, row["id"], user_id)
        if record is not None and left_accepted(record):
            endings.append(status_change(record))
    return endings


# Settling: `$1` is the maximum walk length; the scope's parameters follow.
_OVERDUE = """((status = 'pending' AND expires_at <= now())
            OR (status = 'accepted' AND responded_at <= now() - $1::interval))"""
_SETTLE = """UPDATE invitations SET
        status = CASE status WHEN 'pending' THEN 'expired' ELSE 'finished' END,
        ended_at = CASE status WHEN 'pending' THEN expires_at ELSE responded_at + $1::interval END
    WHERE ({scope}) AND {overdue}
    RETURNING id, status, inviter_id, invitee_id"""


async def settle_overdue_invitation(
    conn: asyncpg.Connection, max_walk: dt.timedelta, invitation_id: uuid.UUID
) -> list[StatusChange]:
    """End this invitation if it is overdue, so it is never seen in a state it has outlived."""
    sql = _SETTLE.format(scope="id = $2", overdue=_OVERDUE)
    return _changes(await conn.fetch(sql, max_walk, invitation_id))


async def settle_overdue_between(
    conn: asyncpg.Connection, max_walk: dt.timedelta, a: uuid.UUID, b: uuid.UUID
) -> list[StatusChange]:
    """End the pair's overdue open invitation, which must not block a new one."""
    sql = _SETTLE.format(scope=_between("$2", "$3"), overdue=_OVERDUE)
    return _changes(await conn.fetch(sql, max_walk, a, b))


async def settle_overdue_of_user(
    conn: asyncpg.Connection, max_walk: dt.timedelta, user_id: uuid.UUID
) -> list[StatusChange]:
    """End this user's overdue invitations before listing them.

    Several rows, so SKIP LOCKED: two of these (or a sweep) never wait on, or deadlock with,
    each other; a row someone else holds is being settled by them.
    """
    scope = (
        "id IN (SELECT id FROM invitations WHERE (inviter_id = $2 OR invitee_id = $2) "
        f"AND {_OVERDUE} FOR UPDATE SKIP LOCKED)"
    )
    sql = _SETTLE.format(scope=scope, overdue=_OVERDUE)
    return _changes(await conn.fetch(sql, max_walk, user_id))


# The sweeper's batches. SKIP LOCKED: several API instances split the work instead of queueing
# on each other's rows (or on a request changing one); a skipped row is taken next sweep.
SWEEP_BATCH = 500


async def expire_overdue_pending(conn: asyncpg.Connection) -> list[StatusChange]:
    """Expire up to SWEEP_BATCH unanswered invitations past `expires_at`."""
    records = await conn.fetch(
        """UPDATE invitations SET status = 'expired', ended_at = expires_at
           WHERE id IN (SELECT id FROM invitations
                        WHERE status = 'pending' AND expires_at <= now()
                        LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING id, status, inviter_id, invitee_id""",
        SWEEP_BATCH,
    )
    return _changes(records)


async def finish_overdue_walks(
    conn: asyncpg.Connection, max_walk: dt.timedelta
) -> list[StatusChange]:
    """Finish up to SWEEP_BATCH accepted invitations older than the maximum walk length."""
    records = await conn.fetch(
        """UPDATE invitations SET status = 'finished', ended_at = responded_at + $1::interval
           WHERE id IN (SELECT id FROM invitations
                        WHERE status = 'accepted' AND responded_at <= now() - $1::interval
                        LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING id, status, inviter_id, invitee_id""",
        max_walk,
        SWEEP_BATCH,
    )
    return _changes(records)


async def list_invitations(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    boxes: tuple[Box, ...],
    status: InvitationStatus | None,
    page: Page,
) -> list[asyncpg.Record]:
    """A page (plus one row, for `page_of`) of the user's invitations in `boxes`, newest first,
    but those with someone who blocked the user.

    One keyset scan per box on its index (`invitations_invitee_idx` / `_inviter_idx`), merged.
    """
    branches = " UNION ALL ".join(
        f"""(SELECT * FROM invitations
             WHERE {BOX_COLUMNS[box]} = $1 AND (created_at, id) < ($2, $3)
               AND ($4::text IS NULL OR status = $4)
               AND {user_visible_to(_PARTNER_COLUMNS[box], "$1")}
             ORDER BY created_at DESC, id DESC LIMIT $5)"""
        for box in boxes
    )
    records: list[asyncpg.Record] = await conn.fetch(
        f"{_presented(f'({branches})')} ORDER BY i.created_at DESC, i.id DESC LIMIT $5",
        user_id,
        page.before_created_at,
        page.before_id,
        status,
        page.limit + 1,
    )
    return records
