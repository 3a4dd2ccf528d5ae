"""Helpers the test modules share (fixtures stay in conftest.py, as pytest advises)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from services.api.consents.documents import load_documents
from shared.settings import Settings

# The web pages for people in a browser (CONTRACT section 7): HTML, outside the API that
# docs/openapi.yaml describes and that the route-walking tests call; tests/email/test_pages.py
# holds them.
WEB_PAGES = ("/account/", "/static/")
TEST_MAIL_DIR = Path(__file__).resolve().parent.parent / ".data" / "test" / "mail"
# What an app sends at sign-up: the current version of every document in the shipped legal
# documents file, and the age confirmation (CONTRACT section 3, Consents).
CONSENTS: dict[str, Any] = {
    **{
        doc.kind: doc.version
        for doc in load_documents(Settings.model_fields["legal_documents_file"].default).values()
        if doc.required
    },
    "age_14_or_over": True,
}


def make_settings(database_url: str, redis_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": "test",
        "database_url": database_url,
        "redis_url": redis_url,
        "jwt_secret": secrets.token_urlsafe(48),
        "db_pool_max_size": 5,
        # A push worker without SMTP_URL writes emails here, never into `make run`'s folder.
        "mail_dir": str(TEST_MAIL_DIR),
        # A stopped test gateway closes its sockets at once; the drain's own tests set a window.
        "shutdown_drain_s": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class User:
    id: str
    token: str
    refresh_token: str
    nickname: str
    email: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    """The REST API under test, with shortcuts for the set-up most tests share."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    async def signup(self, nickname: str | None = None) -> User:
        nickname = nickname or f"user{uuid.uuid4().hex[:8]}"
        email = f"{nickname.lower()}-{uuid.uuid4().hex[:6]}@example.com"
        resp = await self.client.post(
            "/auth/signup",
            json={
                "email": email,
                "password": "correct horse",
                "nickname": nickname,
                "consents": CONSENTS,
            },
        )
        assert resp.status == 201, await resp.text()
        body = await resp.json()
        return User(
            body["user"]["id"], body["access_token"], body["refresh_token"], nickname, email
        )

    async def call(
        self,
        method: str,
        path: str,
        user: User | None = None,
        *,
        expect: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Make a request, assert the status if `expect` is given, return the JSON body or None."""
        headers = dict(kwargs.pop("headers", {}))
        if user is not None:
            headers.update(user.headers)
        resp = await self.client.request(method, path, headers=headers, **kwargs)
        text = await resp.text()
        if expect is not None:
            assert resp.status == expect, f"{method} {path}: {resp.status} {text}"
        if not text:
            return None
        return await resp.json()

    async def follow(self, follower: User, followee: User) -> None:
        await self.call("POST", f"/users/{followee.id}/follow", follower)


def assert_error(body: Any, code: str) -> None:
    """The contract's error shape, with this code."""
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)


async def scrape(port: int) -> dict[str, list[Sample]]:
    """GET /metrics from an internal listener on 127.0.0.1: the samples of each family."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as resp,
    ):
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "text/plain"
        text = await resp.text()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def sample_value(samples: list[Sample], name: str, **labels: str) -> float:
    """The value of the sample `name` whose labels include `labels` (0 when there is none)."""
    for sample in samples:
        if sample.name == name and labels.items() <= sample.labels.items():
            return float(sample.value)
    return 0.0
