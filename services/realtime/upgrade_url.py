"""The gateway keeps no copy of an upgrade request's URL (CONTRACT section 4, issue 20), nor
its raw header lines (issue 23).

`?token=` and `?ticket=` ride in the URL because a browser's WebSocket cannot send headers. What
aiohttp and yarl would keep of that URL while a socket is open, hours at a time: the parsed
request message (held by the request and by aiohttp's connection task until the handler
returns), the request's URL and its cached `query`, and yarl's process-wide LRU cache of built
URLs (`build_pre_encoded_url`, 128 entries).

So the gateway's connections (`GatewayRequestHandler`) take the query string off each request
as it is parsed, before aiohttp builds the request: the request and everything after it see the
bare path (the access log too), and the query waits in `upgrade_query` for the handshake, which
takes it (`take_query`) and so drops the last reference. yarl's cache is emptied of it at once.

Each request also loses its `raw_headers` as it is parsed: the header lines again, as bytes (a
bearer token among them), which nothing reads; `headers` has them all, parsed. A socket kept
them for its whole life: 25 objects, ~1.3 KB a socket (bench/socket_memory.py).

The parsed requests wait in a list rather than aiohttp's deque (`_Messages`): 0.7 KB a socket.

Private names this relies on (listed in shared/aiohttp_internals.py, held by
tests/realtime/test_aiohttp_internals.py): the request handler's
`_messages` queue, and yarl's `_url.build_pre_encoded_url`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.http_parser import RawRequestMessage
from yarl import URL
from yarl._url import build_pre_encoded_url

from shared.protocol_errors import ContractRequestHandler

_receive = ContractRequestHandler.data_received


class _Messages(list[Any]):
    """The parsed requests waiting for the connection's task, in a list: aiohttp's deque costs
    760 bytes even empty, which every socket kept for its whole life (after the upgrade
    nothing is queued). aiohttp appends, pops from the left and takes the length (held by
    tests/realtime/test_aiohttp_internals.py); a connection queues a few requests at most."""

    __slots__ = ()

    def popleft(self) -> Any:
        return self.pop(0)


class GatewayRequestHandler(ContractRequestHandler):
    __slots__ = ("upgrade_query",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.upgrade_query: str | None = None
        self._messages = _Messages()  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._payload_parser is not None:  # a WebSocket's frames: no request head to strip
            _receive(self, data)
            return
        messages = self._messages
        queued = len(messages)
        _receive(self, data)
        if len(messages) > queued:  # a request head was parsed
            self._strip(queued)

    def _strip(self, start: int) -> None:
        """The requests parsed from `start` on, without their query string and raw headers."""
        messages = self._messages
        stripped = False
        for index in range(start, len(messages)):
            message, payload = messages[index]
            # The C parser's or the Python one's, whichever aiohttp imported; else an error.
            if not isinstance(message, RawRequestMessage):
                continue
            changes: dict[str, Any] = {"raw_headers": ()}
            url = message.url
            if url.raw_query_string:
                self.upgrade_query = url.raw_query_string
                changes.update(path=url.raw_path, url=URL.build(path=url.raw_path, encoded=True))
                stripped = True
            messages[index] = (message._replace(**changes), payload)
        if stripped:
            build_pre_encoded_url.cache_clear()


def take_query(request: web.Request) -> str:
    """The request's query string, once: on the gateway's own connections the one stripped
    from its URL (and forgotten here); elsewhere (tests' servers) the URL's."""
    protocol = request.protocol
    if isinstance(protocol, GatewayRequestHandler):
        query, protocol.upgrade_query = protocol.upgrade_query, None
        return query or ""
    return request.rel_url.raw_query_string
