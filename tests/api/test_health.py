"""`GET /healthz` answers 200 with both stores up, 503 when one is down."""

from __future__ import annotations

from typing import Any

from services.api.app import create_app
from tests.support import make_settings


async def test_healthz_ok(api_client: Any) -> None:
    resp = await api_client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_healthz_503_when_redis_is_unreachable(
    database_url: str, aiohttp_client: Any
) -> None:
    settings = make_settings(database_url, "redis://127.0.0.1:1/0")
    client = await aiohttp_client(create_app(settings))
    resp = await client.get("/healthz")
    assert resp.status == 503
    body = await resp.json()
    assert body["status"] != "ok" and body["redis"] is False and body["postgres"] is True
