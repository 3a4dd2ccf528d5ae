"""403 `consent_required` on the writes that publish something (CONTRACT section 3, Consents and
Location consent), decided in this one place for every such route.

`PUBLISHING` names each write by its method and route template. While an operator's new version
of a required document waits for the person's consent, each of them is refused, naming the
missing kinds; reading, signing out, exporting and deleting are not in the table, so they always
work. Those marked as location features (a walk with a `path`, sending or accepting an
invitation) are also refused while the person's location consent is withdrawn.

One indexed query per publishing write; every other request passes untouched. A route renamed
without this table is caught by tests/api/consents/test_my_consents.py, which checks that each
entry names a route the app serves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web
from aiohttp.typedefs import Handler

from services.api.consents.documents import LegalDocument, load_documents
from services.api.consents.state import LOCATION, consent_state
from services.api.web.authentication import user_id_key
from shared.errors import ApiError, unauthorized
from shared.jsonutil import loads
from shared.keys import db_pool_key, settings_key


def _always(body: bytes) -> bool:
    return True


def _never(body: bytes) -> bool:
    return False


def _has_path(body: bytes) -> bool:
    """A walk with a `path`: a body that does not parse is the handler's to answer (400)."""
    try:
        parsed = loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("path") is not None


# (method, route template) -> whether this request uses location (read only when it matters).
PUBLISHING: Mapping[tuple[str, str], Callable[[bytes], bool]] = {
    ("POST", "/walks"): _has_path,
    ("POST", "/walks/{id}/comments"): _never,
    ("POST", "/walks/{id}/likes"): _never,
    ("POST", "/users/{id}/follow"): _never,
    ("POST", "/invitations"): _always,
    ("POST", "/invitations/{id}/accept"): _always,
}


def consent_required(kinds: list[str], documents: Mapping[str, LegalDocument]) -> ApiError:
    details = [
        {"kind": kind, "version": documents[kind].version, "url": documents[kind].url}
        for kind in kinds
    ]
    names = ", ".join(kinds)
    return ApiError(403, "consent_required", f"consent needed first: {names}", details)


@web.middleware
async def consent_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After the bearer check (it needs the caller)."""
    route = request.match_info.route
    resource = route.resource
    uses_location = (
        PUBLISHING.get((request.method, resource.canonical)) if resource is not None else None
    )
    user_id = request.get(user_id_key)
    if uses_location is None or user_id is None:
        return await handler(request)
    documents = load_documents(request.app[settings_key].legal_documents_file)
    pool = request.app[db_pool_key]
    state = await consent_state(pool, user_id, documents)
    missing = state.required
    withdrawn = LOCATION in state.withdrawn and LOCATION in documents
    if not missing and withdrawn and uses_location(await request.read()):
        missing = [LOCATION]
    if missing:
        # No consents at all may also be no account (a valid token outliving its account).
        if not await pool.fetchval("SELECT true FROM users WHERE id = $1", user_id):
            raise unauthorized("this account no longer exists")
        raise consent_required(missing, documents)
    return await handler(request)
