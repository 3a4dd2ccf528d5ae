"""Logs: never a token (not from the access log, not from aiohttp's parse errors), never a
forged line or a raw control byte, and in JSON the request's id on every line written for it."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from aiohttp import web

from shared.logging_setup import (
    JsonFormatter,
    LogFormat,
    MalformedRequestFilter,
    TextFormatter,
    make_formatter,
)
from shared.metrics import HttpMetrics
from shared.request_id import observe_requests
from tests.support import Api

SECRET = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl"


async def test_unparsable_request_line_is_logged_without_its_bytes(
    aiohttp_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    logging.getLogger("aiohttp.server").addFilter(MalformedRequestFilter())
    server = await aiohttp_server(web.Application())
    reader, writer = await asyncio.open_connection(server.host, server.port)
    long_path = f"/ws/walk-together/x?token={SECRET}&pad={'a' * 9000}"
    writer.write(f"GET {long_path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.startswith(b"HTTP/1.") and b" 400 " in status_line, status_line
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert records, "aiohttp reported nothing"
    for record in records:
        assert record.levelno == logging.WARNING
        assert record.exc_info is None
        assert SECRET[:20] not in record.getMessage()
        assert "rejected a malformed HTTP request" in record.getMessage()


FORGED_PATH = "/users/%0a2026-12-01%2020:30:00,000%20ERROR%20services.api:%20forged%1b%5b2J"


class Lines(logging.Handler):
    """What a service process writes, in one format: one string per record."""

    def __init__(self, fmt: LogFormat) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(make_formatter(fmt))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def json(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.lines]


@contextmanager
def captured(fmt: LogFormat) -> Iterator[Lines]:
    lines = Lines(fmt)
    root = logging.getLogger()
    root.addHandler(lines)
    try:
        yield lines
    finally:
        root.removeHandler(lines)


async def raw_get(server: Any, path: str, headers: str) -> bytes:
    """A request written byte for byte (aiohttp's client refuses control bytes in headers)."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    await reader.read()
    writer.close()
    return status_line


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_a_path_cannot_forge_a_log_line_or_write_a_control_byte(
    fmt: LogFormat, api: Api
) -> None:
    with captured(fmt) as logged:
        status_line = await raw_get(
            api.client.server,
            FORGED_PATH,
            "User-Agent: evil\u202e\x85\r\nX-Request-ID: forge-1\r\n",
        )
        assert b" 401 " in status_line, status_line
    [access] = [line for line in logged.lines if "forge-1" in line]
    assert "\n" not in access and "\x1b" not in access and "\r" not in access
    assert "\\x0a2026-12-01 20:30:00,000 ERROR" in access
    assert "\\x1b[2J" in access
    if fmt == "json":
        line = orjson.loads(access)
        assert line["route"] == "/users/{id}"
        assert line["path"].startswith("/users/\\x0a")
        assert line["user_agent"] == "evil\\u202e\\x85"


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_a_device_token_in_the_path_is_not_logged(fmt: LogFormat, api: Api) -> None:
    user = await api.signup()
    device_token = "fcm-registration-token-that-addresses-one-phone"
    body = {"token": device_token, "platform": "android"}
    with captured(fmt) as logged:
        await api.call("POST", "/devices", user, json=body, expect=201)
        await api.call("DELETE", f"/devices/{device_token}", user, expect=204)
    [access] = [line for line in logged.lines if "DELETE" in line]
    assert device_token not in "\n".join(logged.lines)
    assert "/devices/{token}" in access


def test_every_control_character_is_escaped_in_text_and_in_tracebacks() -> None:
    record = logging.LogRecord(
        "t", logging.ERROR, __file__, 1, "got %s", ("a\nb\x07c\u202ed",), None
    )
    try:
        raise ValueError("bad\nline\x1b")
    except ValueError:
        record.exc_info = sys.exc_info()
    text = TextFormatter().format(record)
    first, *trace = text.split("\n")
    assert first.endswith("got a\\x0ab\\x07c\\u202ed")
    assert trace and all(line.startswith("    ") for line in trace)
    assert "\x1b" not in text and "\u202e" not in text
    json_line = JsonFormatter().format(record)
    assert "\n" not in json_line and "\x1b" not in json_line
    assert "ValueError" in orjson.loads(json_line)["exc_info"]


async def test_a_sane_request_id_is_kept_and_returned_else_one_is_made(api: Api) -> None:
    kept = await api.client.get("/healthz", headers={"X-Request-ID": "abc-123 ok"})
    assert kept.headers["X-Request-ID"] == "abc-123 ok"
    for insane in ("x" * 129, "tab\there", "é-accent"):
        resp = await api.client.get("/healthz", headers={"X-Request-ID": insane})
        made = resp.headers["X-Request-ID"]
        assert made != insane and re.fullmatch(r"[0-9a-f]{32}", made)
    error = await api.client.get("/feed", headers={"X-Request-ID": "on-an-error"})
    assert error.status == 401 and error.headers["X-Request-ID"] == "on-an-error"
    fresh = {(await api.client.get("/healthz")).headers["X-Request-ID"] for _ in range(3)}
    assert len(fresh) == 3


async def test_json_lines_carry_the_request_id_in_tasks_the_request_started(
    aiohttp_client: Any,
) -> None:
    log = logging.getLogger("tests.request_id")

    async def later() -> None:
        log.info("from a task")

    async def handler(request: web.Request) -> web.Response:
        log.info("in the handler")
        await asyncio.create_task(later())
        return web.Response(text="ok")

    app = web.Application()
    observe_requests(app, HttpMetrics())
    app.router.add_get("/work", handler)
    client = await aiohttp_client(app)
    with captured("json") as logged:
        resp = await client.get("/work", headers={"X-Request-ID": "req-7"})
        assert resp.status == 200
        log.info("outside any request")
    lines = logged.json()
    assert all({"ts", "level", "logger", "message"} <= line.keys() for line in lines)
    by_message = {line["message"]: line for line in lines}
    assert by_message["in the handler"]["request_id"] == "req-7"
    assert by_message["from a task"]["request_id"] == "req-7"
    assert "request_id" not in by_message["outside any request"]
    [access] = [line for line in lines if line["logger"] == "aiohttp.access"]
    assert access["request_id"] == "req-7"
    assert (access["method"], access["route"], access["status"]) == ("GET", "/work", 200)
    assert access["duration_ms"] >= 0
