"""HTTP timeouts every listener of both services shares (a module of its own: the runner and
the internal listeners both import it, and neither may import the other)."""

from __future__ import annotations

# A connection must finish a request's head (request line and headers) within this long of its
# opening or of the end of the previous response, and an idle keep-alive connection is closed
# after it: else a client that sends half its headers holds a socket for good (issue 20). It is
# aiohttp's `keepalive_timeout`, whose timer starts when the connection opens and closes it
# while no request has arrived whole (web_protocol.py, `_process_keepalive`); a request being
# handled, or an upgraded WebSocket, is never cut by it.
REQUEST_HEAD_TIMEOUT_S = 15.0
