"""The handshake's invitation lookups, coalesced: one `= ANY($1)` query for those waiting together.

A reconnect storm brings thousands of handshakes at once; one query each would queue them behind
the pool's few connections. Here at most one query is in flight: a lookup asked for while it runs
goes in the next one (shared/coalesced.py). Nothing is cached: every lookup is answered by a
query that began after it was asked for, so an invitation that ended before a handshake is seen
as ended (4002), exactly as with a query of its own. A walk between two people either of whom
blocked the other is looked up as missing: refused 4002 too (shared/blocks.py).
"""

from __future__ import annotations

import uuid

import asyncpg

from shared.coalesced import CoalescedLookup
from shared.invitations import Invitation, get_invitations

InvitationLoader = CoalescedLookup[uuid.UUID, Invitation]


def invitation_loader(pool: asyncpg.Pool) -> InvitationLoader:
    async def fetch(invitation_ids: list[uuid.UUID]) -> dict[uuid.UUID, Invitation]:
        return await get_invitations(pool, invitation_ids, unblocked_only=True)

    return CoalescedLookup(fetch, "invitation-loader")
