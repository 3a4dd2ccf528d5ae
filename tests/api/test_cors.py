"""CORS (CONTRACT section 3, CORS): preflights and exposed headers for `CORS_ORIGINS` only."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
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


def _exposed(headers: Any) -> set[str]:
    return {h.strip() for h in headers["Access-Control-Expose-Headers"].split(",")}


def _varies_on_origin(headers: Any) -> bool:
    """`Vary: Origin`, once."""
    varied = [v.strip() for h in headers.getall("Vary", []) for v in h.split(",")]
    return varied.count("Origin") == 1


async def test_a_listed_origin_gets_its_preflight_answered(cors_api: Api) -> None:
    for origin in (APP, "http://localhost:8081"):
        resp = await cors_api.client.options(
            "/feed",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization, if-none-match, x-request-id",
            },
        )
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == origin
        assert "GET" in resp.headers["Access-Control-Allow-Methods"]
        allowed = {
            h.strip().lower() for h in resp.headers["Access-Control-Allow-Headers"].split(",")
        }
        assert {"authorization", "if-none-match", "content-type", "x-request-id"} <= allowed
        assert "Access-Control-Allow-Credentials" not in resp.headers
        assert _varies_on_origin(resp.headers)


async def test_a_listed_origin_may_read_the_poll_headers_and_errors(cors_api: Api) -> None:
    me = await cors_api.signup()
    await post_walk(cors_api, me)
    resp = await cors_api.client.get("/feed", headers={**me.headers, "Origin": APP})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == APP
    assert {"ETag", "X-Poll-Interval", "Retry-After", "X-Request-ID"} <= _exposed(resp.headers)
    assert _varies_on_origin(resp.headers)
    unauthorized = await cors_api.client.get("/feed", headers={"Origin": APP})
    assert unauthorized.status == 401
    assert unauthorized.headers["Access-Control-Allow-Origin"] == APP
    assert {"WWW-Authenticate", "X-Request-ID"} <= _exposed(unauthorized.headers)
    assert unauthorized.headers["WWW-Authenticate"] == "Bearer"


async def test_a_listed_origin_may_send_and_read_the_request_id(cors_api: Api) -> None:
    me = await cors_api.signup()
    resp = await cors_api.client.get(
        "/me", headers={**me.headers, "Origin": APP, "X-Request-ID": "web-1234"}
    )
    assert resp.status == 200
    assert resp.headers["X-Request-ID"] == "web-1234"
    assert "X-Request-ID" in _exposed(resp.headers)


async def test_a_streamed_answer_to_a_listed_origin_has_the_cors_headers(
    database_url: str, redis_url: str, aiohttp_client: Any
) -> None:
    """Headers added after a handler returns would miss an answer it already began sending."""

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"chunk")
        return response

    settings = make_settings(database_url, redis_url, cors_origins=APP)
    app = create_app(settings)
    app.router.add_get("/streamed", stream)
    api = Api(await aiohttp_client(app))
    me = await api.signup()
    resp = await api.client.get("/streamed", headers={**me.headers, "Origin": APP})
    assert await resp.read() == b"chunk"
    assert resp.headers["Access-Control-Allow-Origin"] == APP
    assert "X-Request-ID" in _exposed(resp.headers)
    assert _varies_on_origin(resp.headers)


async def test_other_origins_get_no_cors_headers(cors_api: Api) -> None:
    me = await cors_api.signup()
    preflight = await cors_api.client.options(
        "/feed", headers={"Origin": OTHER, "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status != 204 and _cors_headers(preflight.headers) == set()
    for origin in (OTHER, APP + ".evil.example", "null"):
        resp = await cors_api.client.get("/feed", headers={**me.headers, "Origin": origin})
        assert resp.status == 200 and _cors_headers(resp.headers) == set(), origin


async def test_every_answer_varies_on_origin_when_cors_is_on(cors_api: Api) -> None:
    """What an answer says depends on `Origin`, so a shared cache must not hand the answer to
    one origin (or to none) to another: unlisted origins, no origin and errors included."""
    me = await cors_api.signup()
    preflight = await cors_api.client.options(
        "/feed", headers={"Origin": OTHER, "Access-Control-Request-Method": "GET"}
    )
    assert _varies_on_origin(preflight.headers)
    for headers in ({**me.headers, "Origin": OTHER}, me.headers, {"Origin": OTHER}):
        resp = await cors_api.client.get("/feed", headers=headers)
        assert _varies_on_origin(resp.headers), (resp.status, headers)


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
