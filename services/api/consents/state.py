"""Where a person stands with each legal document: the current consent of each kind, which
required ones are out of date, and whether location consent is withdrawn (CONTRACT section 3,
Consents and Location consent).

A consent is "current" when the newest record of its kind gives a version; a withdrawal makes
it null. A required document is *required again* (`consents_required`) when the person never
consented to it or consented to a version other than the current one (an operator published a
new version). A withdrawal is the person's own choice, not a pending requirement: withdrawn
location consent turns off the location features only (location_rights/), and the rest of the
app keeps working, as 위치정보법 §24 asks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from services.api.consents.documents import KINDS, LegalDocument
from services.api.consents.records import latest_consents

LOCATION = "location_terms"


@dataclass(frozen=True, slots=True)
class ConsentState:
    # The version each kind is consented to now, None when never given or withdrawn.
    current: dict[str, str | None]
    withdrawn: frozenset[str]
    # Required kinds not consented to at their current version (and not withdrawn).
    required: list[str]

    @property
    def location_allowed(self) -> bool:
        return LOCATION not in self.withdrawn and LOCATION not in self.required


async def consent_state(
    conn: asyncpg.Connection | asyncpg.Pool,
    user_id: uuid.UUID,
    documents: dict[str, LegalDocument],
) -> ConsentState:
    latest = await latest_consents(conn, user_id)
    current: dict[str, str | None] = {kind: None for kind in KINDS if kind in documents}
    withdrawn: set[str] = set()
    for kind, record in latest.items():
        if record["action"] == "given":
            current[kind] = record["version"]
        else:
            current[kind] = None
            withdrawn.add(kind)
    required = [
        kind
        for kind, doc in documents.items()
        if doc.required and kind not in withdrawn and current.get(kind) != doc.version
    ]
    return ConsentState(current, frozenset(withdrawn), required)
