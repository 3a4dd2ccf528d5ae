"""`GET /legal`, the documents an app shows before sign-up, and `/me/consents`: the caller's
consents, giving them, and withdrawing marketing (CONTRACT section 3, Consents). Withdrawing
location consent has consequences beyond the record: location_rights/withdrawal_handlers.py."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.api.consents.changes import (
    CONSENT_CHANGES,
    documents_of,
    lock_user,
    withdraw_consent,
)
from services.api.consents.documents import LegalDocument
from services.api.consents.records import consent_history, record_consents
from services.api.consents.state import consent_state
from services.api.web.authentication import current_user
from services.api.web.rate_limit import client_address, enforce
from shared.errors import ApiError
from shared.jsonutil import json_response
from shared.keys import db_pool_key


class ConsentsIn(BaseModel):
    """The versions the caller accepts now, by kind."""

    model_config = ConfigDict(extra="forbid")
    terms: str | None = Field(default=None, max_length=64)
    privacy: str | None = Field(default=None, max_length=64)
    location_terms: str | None = Field(default=None, max_length=64)
    marketing: str | None = Field(default=None, max_length=64)


async def consents_json(
    conn: asyncpg.Connection, user_id: uuid.UUID, documents: dict[str, LegalDocument]
) -> dict[str, Any]:
    """`GET /me/consents`: the current version of each kind, and every record, newest first."""
    state = await consent_state(conn, user_id, documents)
    history = [dict(record) for record in await consent_history(conn, user_id)]
    return {"current": state.current, "history": history}


async def get_legal(request: web.Request) -> web.Response:
    body = {"documents": [doc.model_dump() for doc in documents_of(request).values()]}
    return json_response(body)


async def get_my_consents(request: web.Request) -> web.Response:
    async with request.app[db_pool_key].acquire() as conn:
        body = await consents_json(conn, current_user(request), documents_of(request))
    return json_response(body)


async def give_consents(request: web.Request) -> web.Response:
    """Each kind named must be at its current version (else 422 naming it); a consent already
    given at that version is not recorded twice."""
    body = ConsentsIn.model_validate_json(await request.read())
    given = {kind: version for kind, version in body.model_dump().items() if version is not None}
    documents = documents_of(request)
    details = [
        {
            "field": kind,
            "message": f"not the current version; accept {documents[kind].version}"
            if kind in documents
            else "no such document",
        }
        for kind, version in given.items()
        if kind not in documents or documents[kind].version != version
    ]
    if not given:
        details.append({"field": "body", "message": "name at least one consent"})
    if details:
        raise ApiError(422, "validation_error", "consents are not current", details)
    user_id = current_user(request)
    await enforce(request, (CONSENT_CHANGES, str(user_id)))
    async with request.app[db_pool_key].acquire() as conn:
        async with conn.transaction():
            await lock_user(conn, user_id)
            state = await consent_state(conn, user_id, documents)
            new = {kind: v for kind, v in given.items() if state.current.get(kind) != v}
            await record_consents(conn, user_id, new, "given", client_address(request))
        answer = await consents_json(conn, user_id, documents)
    return json_response(answer)


async def withdraw_marketing(request: web.Request) -> web.Response:
    user_id = current_user(request)
    await enforce(request, (CONSENT_CHANGES, str(user_id)))
    async with request.app[db_pool_key].acquire() as conn, conn.transaction():
        await withdraw_consent(conn, request, user_id, "marketing")
    return web.Response(status=204)
