"""Another site's page cannot open the walk-together socket: an `Origin` that is neither one of
CORS_ORIGINS nor the gateway's own is refused before the upgrade with 403 (CONTRACT section 4)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from services.realtime.app import create_app
from services.realtime.origin import origin_allowed
from shared.jsonutil import loads
from shared.logging_setup import AccessLogger
from shared.settings import Settings
from tests.realtime.conftest import Walk
from tests.realtime.raw_ws import open_raw

WEB_BUILD = "https://app.withbowwow.example"


@pytest.fixture
async def port(settings: Settings) -> AsyncIterator[int]:
    server = TestServer(create_app(settings.model_copy(update={"cors_origins": (WEB_BUILD,)})))
    await server.start_server(access_log_class=AccessLogger)
    assert server.port is not None
    yield server.port
    await server.close()


def path(walk: Walk) -> str:
    return f"/ws/walk-together/{walk.id}?token={walk.inviter.token}"


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "null", "http://127.0.0.1:1", "https://app.withbowwow.example.evil"],
)
async def test_another_sites_page_is_refused_403_before_the_upgrade(
    port: int, walk: Walk, origin: str
) -> None:
    ws = await open_raw(port, path(walk), {"Origin": origin})
    assert ws.status == 403
    assert "upgrade" not in ws.headers
    body = await ws.reader.readexactly(int(ws.headers["content-length"]))
    assert loads(body)["error"]["code"] == "forbidden"
    ws.writer.close()


@pytest.mark.parametrize("origin", [None, WEB_BUILD, "own"])
async def test_the_web_build_the_gateways_own_origin_and_no_origin_pass(
    port: int, walk: Walk, origin: str | None
) -> None:
    headers = {}
    if origin == "own":  # what iOS sends: the origin of the Host it asked for
        headers["Origin"] = f"http://127.0.0.1:{port}"
    elif origin is not None:
        headers["Origin"] = origin
    ws = await open_raw(port, path(walk), headers)
    assert ws.status == 101
    await ws.next_json("hello")
    ws.send_close()
    await ws.until_closed()


def test_an_own_origin_matches_its_host_with_or_without_the_default_port() -> None:
    assert origin_allowed("https://rt.example.com", "rt.example.com", ())
    assert origin_allowed("https://rt.example.com", "RT.example.com:443", ())
    assert origin_allowed("wss://rt.example.com:8443", "rt.example.com:8443", ())
    assert not origin_allowed("https://rt.example.com", "rt.example.com:8443", ())
    assert not origin_allowed("https://rt.example.com.evil", "rt.example.com", ())
    assert not origin_allowed("ftp://rt.example.com", "rt.example.com", ())
    assert not origin_allowed("https://rt.example.com", None, ())
