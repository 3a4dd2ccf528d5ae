"""One-use tickets for the walk-together socket (CONTRACT section 4): the API issues them
(`POST /realtime/tickets`), the gateway takes them, through Redis, so that the URL a browser, a
proxy or a log keeps (`?ticket=`) holds nothing usable: a ticket works once, for one walk,
within `TICKET_TTL_S`.

The key is `realtime:ticket:<SHA-256 of the ticket>`: what Redis holds (and `MONITOR` or a
dump shows) is no ticket either. Its value names the user, the walk and the session of the
token it was issued to, so that the end of that session still closes the socket (4001). The
gateway takes a ticket with GETDEL: of two sockets racing with one ticket, one gets it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from shared.jsonutil import dumps_bytes, loads

TICKET_TTL_S = 30
# 256 bits: as hard to guess as a signing key.
TICKET_BYTES = 32


@dataclass(frozen=True, slots=True)
class TicketHolder:
    user_id: uuid.UUID
    invitation_id: uuid.UUID
    session_id: uuid.UUID


def new_ticket() -> str:
    return secrets.token_urlsafe(TICKET_BYTES)


def ticket_key(ticket: str) -> str:
    digest = hashlib.sha256(ticket.encode("utf-8", "surrogateescape")).hexdigest()
    return f"realtime:ticket:{digest}"


def ticket_value(holder: TicketHolder) -> bytes:
    return dumps_bytes(
        {
            "user_id": str(holder.user_id),
            "invitation_id": str(holder.invitation_id),
            "session_id": str(holder.session_id),
        }
    )


def holder_of(value: bytes | str | None) -> TicketHolder | None:
    """The holder a ticket key's value names; None for no (or an unreadable) value."""
    if value is None:
        return None
    try:
        fields = loads(value)
        return TicketHolder(
            uuid.UUID(fields["user_id"]),
            uuid.UUID(fields["invitation_id"]),
            uuid.UUID(fields["session_id"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
