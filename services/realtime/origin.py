"""Which web pages may open the walk-together socket (CONTRACT section 4).

A browser sends the page's `Origin` with every WebSocket upgrade and lets any site's page open a
socket to any host: without this check, another site's page that the walker has open could ride
the walker's ticket or token. A request is refused before the upgrade (403) when it names an
origin that is neither one of `CORS_ORIGINS` (the web build of the app) nor the gateway's own,
the origin of the `Host` it was asked for, which is what iOS's WebSocket sends. A request with no
`Origin` (Android's and the tools' clients send none) passes: only browsers are held to it.
"""

from __future__ import annotations

# An own origin's scheme, and the port it leaves out of `Origin` but a `Host` may carry.
DEFAULT_PORTS = {"http": ":80", "https": ":443", "ws": ":80", "wss": ":443"}


def origin_allowed(origin: str | None, host: str | None, allowed: tuple[str, ...]) -> bool:
    """`origin` (the request's `Origin`, or None) may open a socket on `host` (its `Host`)."""
    if origin is None or origin in allowed:
        return True
    scheme, separator, authority = origin.partition("://")
    default_port = DEFAULT_PORTS.get(scheme.lower())
    if not separator or default_port is None or not host or not authority:
        return False
    host = host.lower()
    authority = authority.lower()
    return authority == host or authority + default_port == host
