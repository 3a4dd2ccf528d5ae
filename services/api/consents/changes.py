"""Changing a person's consents: the hourly limit on changes, the lock that puts two changes one
after the other, and withdrawing one kind, which `DELETE /me/consents/marketing`
(consent_handlers.py) and location consent's withdrawal (location_rights/) both do."""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp import web

from services.api.consents.documents import LegalDocument, load_documents
from services.api.consents.records import record_consents
from services.api.consents.state import consent_state
from services.api.web.rate_limit import Limit, client_address
from shared.keys import settings_key

# Consents given or withdrawn by one person in an hour: far above anyone's hand, and a bound on
# the append-only record a script could grow.
CONSENT_CHANGES = Limit("consent-changes", 60, 3600)


def documents_of(request: web.Request) -> dict[str, LegalDocument]:
    return load_documents(request.app[settings_key].legal_documents_file)


async def withdraw_consent(
    conn: asyncpg.Connection, request: web.Request, user_id: uuid.UUID, kind: str
) -> bool:
    """Record the withdrawal of `kind` in the caller's transaction; False when there was no
    consent to withdraw (nothing is recorded then)."""
    await lock_user(conn, user_id)
    documents = documents_of(request)
    state = await consent_state(conn, user_id, documents)
    version = state.current.get(kind)
    if version is None:
        return False
    await record_consents(conn, user_id, {kind: version}, "withdrawn", client_address(request))
    return True


async def lock_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Two changes of one person's consents apply one after the other (no double record)."""
    await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id)
