"""Fixed-window request limits in Redis, for the routes that guess-and-check passwords.

Login is limited per email (slows password guessing on one account from many addresses) and per
client address (slows one client trying many accounts); sign-up and refresh per address. A limit
is a counter per window (`ratelimit:{name}:{key}:{window}`), so instances share it. When Redis is
unavailable the request goes through: a limiter must not take logins down with it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address

import redis.asyncio as aioredis
from aiohttp import web

from shared.errors import ApiError
from shared.keys import redis_key, settings_key

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    max_requests: int
    window_s: int


LOGIN_PER_EMAIL = Limit("login-email", 10, 15 * 60)
LOGIN_PER_ADDRESS = Limit("login-addr", 60, 60)
SIGNUP_PER_ADDRESS = Limit("signup-addr", 20, 60 * 60)
REFRESH_PER_ADDRESS = Limit("refresh-addr", 120, 60)


def client_address(request: web.Request) -> str:
    """The client's address: the peer's, or behind proxies listed in TRUSTED_PROXIES the
    nearest X-Forwarded-For hop that is not one of them (hops further left are the client's own
    claims, which anyone can forge)."""
    peer = request.remote or "unknown"
    proxies = request.app[settings_key].trusted_proxies
    if not proxies or not _among(peer, proxies):
        return peer
    hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", ()) for h in v.split(",")]
    for hop in reversed(hops):
        if hop and not _among(hop, proxies):
            return hop
    return peer


def _among(address: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


async def _hit(redis: aioredis.Redis, limit: Limit, key: str) -> int | None:
    """Count this request; the seconds until the window ends if over the limit, else None."""
    now = int(time.time())
    window = now // limit.window_s
    digest = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()  # no emails in key names
    counter = f"ratelimit:{limit.name}:{digest}:{window}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(counter)
        pipe.expire(counter, limit.window_s + 1)
        count, _ = await pipe.execute()
    if int(count) > limit.max_requests:
        return (window + 1) * limit.window_s - now
    return None


async def enforce(request: web.Request, *checks: tuple[Limit, str]) -> None:
    """Raise 429 `rate_limited` with `Retry-After` when any (limit, key) is exhausted."""
    redis = request.app[redis_key]
    retry_after: int | None = None
    try:
        for limit, key in checks:
            wait = await _hit(redis, limit, key)
            if wait is not None:
                retry_after = max(retry_after or 0, wait)
    except Exception as exc:
        log.warning("rate limit not checked (%s); letting the request through", type(exc).__name__)
        return
    if retry_after is not None:
        raise ApiError(
            429,
            "rate_limited",
            "too many attempts; try again later",
            headers={"Retry-After": str(max(1, retry_after))},
        )
