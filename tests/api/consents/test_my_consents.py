"""`/me/consents`, `consents_required` on `GET /me` and 403 `consent_required` on the writes
that publish something once an operator publishes a new version (CONTRACT section 3, Consents).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from services.api.consents.gate import PUBLISHING
from shared.settings import Settings
from tests.api.walk_support import post_walk, walk_payload
from tests.support import CONSENTS, Api, User, assert_error, make_settings

SHIPPED = Path(Settings.model_fields["legal_documents_file"].default)
NEW_TERMS = "2027-01-01"


def publish(tmp_path: Path, **versions: str) -> str:
    """A legal documents file like the shipped one, with these kinds at new versions."""
    documents = json.loads(SHIPPED.read_text())
    for doc in documents["documents"]:
        doc["version"] = versions.get(doc["kind"], doc["version"])
    path = tmp_path / f"legal-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(documents))
    return str(path)


@pytest.fixture
async def republished(settings: Settings, tmp_path: Path, aiohttp_client: Any) -> Api:
    """The same database and Redis served by an API restarted with a new version of the terms."""
    new = make_settings(
        settings.database_url,
        settings.redis_url,
        jwt_secret=settings.jwt_key,
        legal_documents_file=publish(tmp_path, terms=NEW_TERMS),
    )
    client: TestClient = await aiohttp_client(create_app(new))
    return Api(client)


async def test_my_consents_show_the_current_versions_and_the_history(api: Api) -> None:
    user = await api.signup()
    body = await api.call("GET", "/me/consents", user, expect=200)
    assert body["current"] == {
        "terms": CONSENTS["terms"],
        "privacy": CONSENTS["privacy"],
        "location_terms": CONSENTS["location_terms"],
        "marketing": None,
    }
    assert {(h["kind"], h["action"]) for h in body["history"]} == {
        ("terms", "given"),
        ("privacy", "given"),
        ("location_terms", "given"),
    }
    assert all(h["client_address"] and h["at"] for h in body["history"])
    assert (await api.call("GET", "/me", user, expect=200))["consents_required"] == []


async def test_marketing_is_given_and_withdrawn_and_both_are_recorded(api: Api) -> None:
    user = await api.signup()
    version = CONSENTS["terms"]  # the shipped file has one version date for all
    body = await api.call("POST", "/me/consents", user, expect=200, json={"marketing": version})
    assert body["current"]["marketing"] == version
    await api.call("DELETE", "/me/consents/marketing", user, expect=204)
    body = await api.call("GET", "/me/consents", user, expect=200)
    assert body["current"]["marketing"] is None
    assert [(h["kind"], h["action"]) for h in body["history"][:2]] == [
        ("marketing", "withdrawn"),
        ("marketing", "given"),
    ]


async def test_a_version_that_is_not_current_is_422_naming_it(
    api: Api, db: asyncpg.Connection
) -> None:
    user = await api.signup()
    before = await db.fetchval("SELECT count(*) FROM consent_records")
    body = await api.call(
        "POST",
        "/me/consents",
        user,
        expect=422,
        json={"terms": "1999-01-01", "privacy": CONSENTS["privacy"]},
    )
    assert_error(body, "validation_error")
    assert [d["field"] for d in body["error"]["details"]] == ["terms"]
    await api.call("POST", "/me/consents", user, expect=422, json={})
    await api.call("POST", "/me/consents", user, expect=422, json={"age_14_or_over": True})
    assert await db.fetchval("SELECT count(*) FROM consent_records") == before


async def test_giving_a_consent_already_given_records_nothing_new(
    api: Api, db: asyncpg.Connection
) -> None:
    user = await api.signup()
    before = await db.fetchval("SELECT count(*) FROM consent_records")
    await api.call("POST", "/me/consents", user, expect=200, json={"terms": CONSENTS["terms"]})
    assert await db.fetchval("SELECT count(*) FROM consent_records") == before


async def test_terms_and_privacy_cannot_be_withdrawn_but_by_deleting_the_account(
    api: Api,
) -> None:
    user = await api.signup()
    for kind in ("terms", "privacy"):
        await api.call("DELETE", f"/me/consents/{kind}", user, expect=404)


def _publishing_writes(
    other: User, walk_id: str, invitation_id: str
) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("POST", "/walks", {"json": walk_payload()}),
        ("POST", f"/walks/{walk_id}/comments", {"json": {"body": "멋져요"}}),
        ("POST", f"/walks/{walk_id}/likes", {}),
        ("POST", f"/users/{other.id}/follow", {}),
        ("POST", "/invitations", {"json": {"invitee_id": other.id}}),
        ("POST", f"/invitations/{invitation_id}/accept", {}),
    ]


async def test_a_new_version_is_required_and_refuses_every_publishing_write_until_given(
    api: Api, republished: Api
) -> None:
    user, other = await api.signup(), await api.signup()
    walk = await post_walk(api, other)
    invitation = await api.call(
        "POST", "/invitations", other, expect=201, json={"invitee_id": user.id}
    )
    me = await republished.call("GET", "/me", user, expect=200)
    assert me["consents_required"] == ["terms"]

    writes = _publishing_writes(other, walk["id"], invitation["id"])
    assert len(writes) == len(PUBLISHING)
    for method, path, kwargs in writes:
        body = await republished.call(method, path, user, expect=403, **kwargs)
        assert_error(body, "consent_required")
        assert body["error"]["details"] == [
            {"kind": "terms", "version": NEW_TERMS, "url": body["error"]["details"][0]["url"]}
        ]
    # Reading, signing out and the rest of what is not publishing still work.
    await republished.call("GET", f"/walks/{walk['id']}", user, expect=200)
    await republished.call("GET", "/feed", user, expect=200)
    await republished.call("GET", "/me/consents", user, expect=200)
    await republished.call("GET", "/notifications", user, expect=200)
    # The old version is no longer accepted; the new one clears the requirement.
    await republished.call(
        "POST", "/me/consents", user, expect=422, json={"terms": CONSENTS["terms"]}
    )
    await republished.call("POST", "/me/consents", user, expect=200, json={"terms": NEW_TERMS})
    assert (await republished.call("GET", "/me", user, expect=200))["consents_required"] == []
    await republished.call("POST", f"/walks/{walk['id']}/likes", user, expect=201)
    await republished.call("POST", f"/invitations/{invitation['id']}/accept", user, expect=200)


async def test_signing_out_and_deleting_work_while_a_consent_is_required(
    api: Api, republished: Api
) -> None:
    user = await api.signup()
    await republished.call(
        "POST", "/auth/logout", json={"refresh_token": user.refresh_token}, expect=204
    )
    other = await api.signup()
    await republished.call("DELETE", "/me", other, expect=204, json={"password": "correct horse"})


async def test_one_persons_missing_consent_does_not_stop_anyone_else(
    api: Api, republished: Api
) -> None:
    late, prompt = await api.signup(), await api.signup()
    await republished.call("POST", "/me/consents", prompt, expect=200, json={"terms": NEW_TERMS})
    walk = await post_walk(republished, prompt)
    await republished.call("POST", f"/walks/{walk['id']}/likes", late, expect=403)
    await republished.call("POST", f"/walks/{walk['id']}/likes", prompt, expect=201)


def test_every_gated_route_is_one_the_api_serves(settings: Settings) -> None:
    app = create_app(settings)
    served = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource}
    assert set(PUBLISHING) <= served
