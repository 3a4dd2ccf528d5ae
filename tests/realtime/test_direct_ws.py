"""The aiohttp and yarl internals the gateway (direct_ws.py, upgrade_url.py) relies on, by name:
an upgrade that renames or drops one fails here, not as a silent second Close frame, a lost
location or a kept token."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp._websocket.reader import WebSocketDataQueue
from aiohttp.web_protocol import RequestHandler

from services.realtime.direct_ws import DirectWebSocketResponse


def test_the_response_internals_direct_ws_uses_exist() -> None:
    ws = web.WebSocketResponse()
    for name in ("_closed", "_closing", "_reader", "_parser", "_loop"):
        assert hasattr(ws, name), name
    for name in ("_set_closed", "_close_transport", "_post_start"):
        assert callable(getattr(web.WebSocketResponse, name, None)), name
    assert callable(getattr(WebSocketDataQueue, "feed_data", None))


def test_the_request_handler_internals_the_gateway_uses_exist() -> None:
    slots = {name for cls in RequestHandler.__mro__ for name in getattr(cls, "__slots__", ())}
    for name in ("_message_tail", "_payload_parser", "_parser"):
        assert name in slots, name


async def test_claim_close_is_granted_once_and_makes_aiohttp_close_send_nothing() -> None:
    ws = DirectWebSocketResponse()
    assert ws.claim_close() is True
    assert ws.closed
    assert ws.claim_close() is False
    # aiohttp's close() (called when the handler returns) finds the socket closed: no frame.
    ws._writer = object()  # type: ignore[assignment]  # "prepared", without a connection
    assert await ws.close() is False
    await asyncio.sleep(0)


def test_the_internals_upgrade_url_uses_exist() -> None:
    """services/realtime/upgrade_url.py: the parsed requests' queue, yarl's URL cache."""
    from yarl import _url

    slots = {name for cls in RequestHandler.__mro__ for name in getattr(cls, "__slots__", ())}
    assert "_messages" in slots
    assert callable(getattr(_url.build_pre_encoded_url, "cache_clear", None))
