"""The 30-second polls' HTTP caching: `ETag`, `If-None-Match` → 304, `X-Poll-Interval`.

The ETag is a hash of what the answer stands for: by default its exact body, so it changes
exactly when the answer does (a new like count included) and a matching poll costs one query
and a hash, with no body sent. `If-None-Match` is compared weakly, as HTTP says for it:
`W/"x"` matches `"x"` (a proxy that compresses weakens ETags), `*` matches any answer, and a
list matches when one of its tags does.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from shared.jsonutil import dumps_bytes
from shared.keys import settings_key


def _matches(request: web.Request, etag: str) -> bool:
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    if header == etag:  # what nearly every poll sends: no parsing
        return True
    tags = request.if_none_match or ()
    value = etag[1:-1]
    return any(tag.value in (value, "*") for tag in tags)


def poll_response(request: web.Request, body: Any, *, version: Any = None) -> web.Response:
    """`body` with its ETag, or 304 when `If-None-Match` matches. `version`, when given, is
    what the ETag hashes instead of the body: it must change whenever the body a poll would
    need does."""
    payload = dumps_bytes(body)
    tagged = payload if version is None else dumps_bytes(version)
    etag = '"' + hashlib.blake2b(tagged, digest_size=16).hexdigest() + '"'
    headers = {
        "ETag": etag,
        "X-Poll-Interval": str(request.app[settings_key].poll_interval_s),
        "Cache-Control": "private, no-cache",
    }
    if _matches(request, etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=payload, content_type="application/json", headers=headers)
