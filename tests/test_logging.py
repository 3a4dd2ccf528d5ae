"""Logs never carry a token: not from the access log, not from aiohttp's parse errors."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp import web

from shared.logging_setup import MalformedRequestFilter

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
