"""Sign-up records the consents of CONTRACT section 3 (Consents), or refuses without them."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from tests.support import CONSENTS, Api, assert_error

REQUIRED = ("terms", "privacy", "location_terms")


def _signup(consents: Any) -> dict[str, Any]:
    body = {"email": "new@example.com", "password": "correct horse", "nickname": "새친구"}
    return body if consents is None else {**body, "consents": consents}


async def test_legal_lists_the_documents_with_their_versions(api: Api) -> None:
    documents = (await api.call("GET", "/legal", expect=200))["documents"]
    by_kind = {doc["kind"]: doc for doc in documents}
    assert {kind: doc["required"] for kind, doc in by_kind.items()} == {
        "terms": True,
        "privacy": True,
        "location_terms": True,
        "marketing": False,
    }
    assert all(doc["version"] and doc["url"].startswith("https://") for doc in documents)


@pytest.mark.parametrize(
    ("consents", "fields"),
    [
        (None, {"consents"}),
        ({**CONSENTS, "terms": "1999-01-01"}, {"consents.terms"}),
        ({k: v for k, v in CONSENTS.items() if k != "location_terms"}, {"consents.location_terms"}),
        ({**CONSENTS, "age_14_or_over": False}, {"consents.age_14_or_over"}),
        ({**CONSENTS, "age_14_or_over": "yes"}, {"consents.age_14_or_over"}),
        ({**CONSENTS, "age_14_or_over": 1}, {"consents.age_14_or_over"}),
        (
            {"age_14_or_over": True},
            {"consents.terms", "consents.privacy", "consents.location_terms"},
        ),
    ],
)
async def test_signup_without_current_required_consents_is_422_naming_them(
    api: Api, db: asyncpg.Connection, consents: Any, fields: set[str]
) -> None:
    body = await api.call("POST", "/auth/signup", expect=422, json=_signup(consents))
    assert_error(body, "validation_error")
    assert {d["field"] for d in body["error"]["details"]} == fields
    assert await db.fetchval("SELECT count(*) FROM users") == 0
    assert await db.fetchval("SELECT count(*) FROM consent_records") == 0


async def test_signup_records_each_consent_given_with_version_and_address(
    api: Api, db: asyncpg.Connection
) -> None:
    body = await api.call(
        "POST", "/auth/signup", expect=201, json=_signup({**CONSENTS, "marketing": True})
    )
    rows = await db.fetch(
        "SELECT kind, version, action, client_address FROM consent_records WHERE user_id = $1",
        uuid.UUID(body["user"]["id"]),
    )
    versions = {r["kind"]: r["version"] for r in rows}
    assert versions.keys() == {"terms", "privacy", "location_terms", "marketing"}
    assert {r["action"] for r in rows} == {"given"}
    assert {r["client_address"] for r in rows} == {"127.0.0.1"}


async def test_the_database_refuses_to_change_a_consent_record(
    api: Api, db: asyncpg.Connection
) -> None:
    await api.signup()
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("UPDATE consent_records SET version = 'forged'")
