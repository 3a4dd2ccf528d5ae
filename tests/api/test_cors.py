"""CORS (CONTRACT section 3, CORS): preflights and exposed headers for `CORS_ORIGINS` only."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import ValidationError

from services.api.app import create_app
from tests.api.walk_support import post_walk
from tests.support import Api, make_settings

APP = "https://app.withbowwow.example"
OTHER = "https://evil.example"


@pytest.fixture
async def cors_api(database_url: str, redis_url: str, aiohttp_client: Any) -> Api:
    settings = make_settings(database_url, redis_url, cors_origins=f"{APP}, http://localhost:8081")
    client: TestClient = await aiohttp_client(create_app(settings))
    return Api(client)


def _cors_headers(headers: Any) -> set[str]:
    return {k.lower() for k in headers if k.lower().startswith("access-control-")}


async def test_a_listed_origin_gets_its_preflight_answered(cors_api: Api) -> None:
    for origin in (APP, "http://localhost:8081"):
        resp = await cors_api.client.options(
            "/feed",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization, if-none-match",
            },
        )
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == origin
        assert "GET" in resp.headers["Access-Control-Allow-Methods"]
        allowed = {
            h.strip().lower() for h in resp.headers["Access-Control-Allow-Headers"].split(",")
        }
        assert {"authorization", "if-none-match", "content-type"} <= allowed
        assert "Access-Control-Allow-Credentials" not in resp.headers


async def test_a_listed_origin_may_read_the_poll_headers_and_errors(cors_api: Api) -> None:
    me = await cors_api.signup()
    await post_walk(cors_api, me)
    resp = await cors_api.client.get("/feed", headers={**me.headers, "Origin": APP})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == APP
    exposed = {h.strip() for h in resp.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "X-Poll-Interval", "Retry-After"} <= exposed
    assert "Origin" in resp.headers.getall("Vary")
    unauthorized = await cors_api.client.get("/feed", headers={"Origin": APP})
    assert unauthorized.status == 401
    assert unauthorized.headers["Access-Control-Allow-Origin"] == APP


async def test_other_origins_get_no_cors_headers(cors_api: Api) -> None:
    me = await cors_api.signup()
    preflight = await cors_api.client.options(
        "/feed", headers={"Origin": OTHER, "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status != 204 and _cors_headers(preflight.headers) == set()
    for origin in (OTHER, APP + ".evil.example", "null"):
        resp = await cors_api.client.get("/feed", headers={**me.headers, "Origin": origin})
        assert resp.status == 200 and _cors_headers(resp.headers) == set(), origin


async def test_without_cors_origins_no_origin_gets_cors_headers(api: Api) -> None:
    preflight = await api.client.options(
        "/feed", headers={"Origin": APP, "Access-Control-Request-Method": "GET"}
    )
    assert _cors_headers(preflight.headers) == set()


@pytest.mark.parametrize("value", ["app.example", "https://app.example/path", "ftp://x.example"])
def test_cors_origins_must_be_origins(value: str) -> None:
    with pytest.raises(ValidationError, match="CORS_ORIGINS"):
        make_settings(
            "postgresql://unused@127.0.0.1:1/x", "redis://127.0.0.1:1/0", cors_origins=value
        )
