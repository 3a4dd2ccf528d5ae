"""The 30-second polls' HTTP caching: `ETag`, `If-None-Match` → 304, `X-Poll-Interval`.

The ETag is a hash of the exact body, so it changes exactly when the answer does (a new like
count included) and a matching poll costs one query and a hash, with no body sent.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from shared.jsonutil import dumps_bytes
from shared.keys import settings_key


def poll_response(request: web.Request, body: Any) -> web.Response:
    payload = dumps_bytes(body)
    etag = '"' + hashlib.blake2b(payload, digest_size=16).hexdigest() + '"'
    headers = {
        "ETag": etag,
        "X-Poll-Interval": str(request.app[settings_key].poll_interval_s),
        "Cache-Control": "private, no-cache",
    }
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match and etag in {t.strip() for t in if_none_match.split(",")}:
        return web.Response(status=304, headers=headers)
    return web.Response(body=payload, content_type="application/json", headers=headers)
