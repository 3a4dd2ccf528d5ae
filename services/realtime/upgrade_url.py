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

Nor does a socket keep its request's headers past the handshake (issue 23): the access log
reads only the User-Agent when the socket ends. Each request's headers are put in a dict of the
connection's own as the request is parsed (`upgrade_headers`), and `keep_only_user_agent`
empties it of everything else once the handshake is done: the request, its message and
aiohttp's connection task, which all hold the same headers, see what is left (~0.4 KB a socket);
the request's and its URL's property caches are emptied too.

The parsed requests wait in a list rather than aiohttp's deque (`_Messages`): 0.7 KB a socket.
And the connections share one access logger (aiohttp makes one a connection; ours keeps no
state of its own, shared/logging_setup.py).

Private names this relies on (listed in shared/aiohttp_internals.py, held by
tests/realtime/test_aiohttp_internals.py): the request handler's
`_messages` queue, and yarl's `_url.build_pre_encoded_url`.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import hdrs, web
from aiohttp.http_parser import RawRequestMessage
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL
from yarl._url import build_pre_encoded_url

from shared.logging_setup import AccessLogger
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


# One access logger a logger and format, for every connection of the process.
_ACCESS_LOGGERS: dict[tuple[logging.Logger, str], AccessLogger] = {}


class GatewayRequestHandler(ContractRequestHandler):
    __slots__ = ("upgrade_headers", "upgrade_query")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.upgrade_query: str | None = None
        # The last request's headers: the request's view of them, and the dict underneath.
        self.upgrade_headers: tuple[CIMultiDictProxy[str], CIMultiDict[str]] | None = None
        self._messages = _Messages()  # type: ignore[assignment]
        logger = self.access_logger
        if type(logger) is AccessLogger:
            key = (logger.logger, logger.log_format)
            self.access_logger = _ACCESS_LOGGERS.setdefault(key, logger)

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
        """The requests parsed from `start` on, without their query string and raw headers, and
        with their headers in a dict of ours."""
        messages = self._messages
        stripped = False
        for index in range(start, len(messages)):
            message, payload = messages[index]
            # The C parser's or the Python one's, whichever aiohttp imported; else an error.
            if not isinstance(message, RawRequestMessage):
                continue
            headers = CIMultiDict(message.headers)
            view = CIMultiDictProxy(headers)
            self.upgrade_headers = (view, headers)
            changes: dict[str, Any] = {"raw_headers": (), "headers": view}
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


def keep_only_user_agent(request: web.Request) -> None:
    """Once the handshake is done: the request's headers are only its User-Agent, which the
    access log reads when the socket ends (shared/logging_setup.py). Nothing else reads them
    any more. On other connections (tests' servers) they stay as they are."""
    protocol = request.protocol
    if not isinstance(protocol, GatewayRequestHandler):
        return
    kept, protocol.upgrade_headers = protocol.upgrade_headers, None
    if kept is None or kept[0] is not request.headers:
        return  # not the request last parsed (none follows an upgrade): left as it is
    headers = kept[1]
    user_agent = headers.get(hdrs.USER_AGENT)
    headers.clear()
    if user_agent is not None:
        headers[hdrs.USER_AGENT] = user_agent
    # And what the handshake left in the caches of the request's and its URL's properties
    # (propcache's: each value is computed again if asked for, from what the object holds):
    # ~0.24 KB a socket.
    request.rel_url._cache.clear()  # type: ignore[attr-defined]  # a TypedDict, a dict
    request._cache.clear()
