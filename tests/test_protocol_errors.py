"""Requests aiohttp cannot parse get the contract's error shape from both services, and never
their own bytes back (shared/protocol_errors.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from services.api.app import create_app as create_api
from services.realtime.app import create_app as create_gateway
from shared.logging_setup import MalformedRequestFilter
from shared.protocol_errors import ContractAppRunner
from shared.settings import Settings

# Looks like a JWT, so that an echo of it would be a leaked token.
SECRET = "eyJhbGciOiJIUzI1NiJ9." + "x" * 9000 + ".signature"
APPS: dict[str, Callable[[Settings], web.Application]] = {
    "api": create_api,
    "realtime": create_gateway,
}


# What configure_logging installs in the services: their malformed-request log lines never
# quote the request (else the session's leak watch would find the token this file sends).
_MALFORMED = MalformedRequestFilter()


@pytest.fixture(params=sorted(APPS))
async def served(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[int]:
    logging.getLogger("aiohttp.server").addFilter(_MALFORMED)
    runner = ContractAppRunner(APPS[request.param](settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield runner.addresses[0][1]
    await runner.cleanup()
    logging.getLogger("aiohttp.server").removeFilter(_MALFORMED)


async def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    raw = await reader.read()  # the error closes the connection
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def _assert_contract_error(body: bytes, headers: dict[str, str]) -> Any:
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)
    assert set(error) == {"error"}
    assert error["error"]["code"] == "bad_request"
    assert error["error"]["details"] == []
    return error


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + SECRET.encode()
        + b"\r\n\r\n",
        b"GET /healthz?token=" + SECRET.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-" + b"a" * 9000 + b": 1\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad\x01Header: " + SECRET[:40].encode() + b"\r\n\r\n",
    ],
    ids=["long-authorization", "long-request-line", "long-header-name", "bad-header-byte"],
)
async def test_an_unparsable_request_gets_the_error_shape_without_an_echo(
    served: int, request_bytes: bytes
) -> None:
    status, headers, body = await _raw(served, request_bytes)
    assert status == 400
    _assert_contract_error(body, headers)
    assert b"eyJ" not in body and b"xxxxxxxx" not in body and b"aaaaaaaa" not in body


async def test_an_unparsable_request_gets_a_new_request_id_that_its_log_line_carries(
    served: int, caplog: pytest.LogCaptureFixture
) -> None:
    status, headers, _ = await _raw(
        served,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: mine\r\nX-"
        + b"a" * 9000
        + b": 1\r\n\r\n",
    )
    assert status == 400
    request_id = headers["x-request-id"]
    assert request_id and request_id != "mine"  # nothing of an unparsable request is trusted
    logged = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert [getattr(r, "request_id", None) for r in logged] == [request_id]


async def test_the_message_says_what_could_not_be_parsed(served: int) -> None:
    _, _, too_long = await _raw(
        served, b"GET /healthz?x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert "8190 bytes" in json.loads(too_long)["error"]["message"]
    _, _, malformed = await _raw(served, b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n")
    assert json.loads(malformed)["error"] == {
        "code": "bad_request",
        "message": "the request could not be parsed",
        "details": [],
    }


async def test_a_request_under_the_limit_is_served_as_usual(served: int) -> None:
    status, _, body = await _raw(
        served,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: "
        + b"p" * 8000
        + b"\r\n\r\n",
    )
    assert status == 200
    assert json.loads(body)["status"] == "ok"
