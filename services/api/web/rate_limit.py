"""Sliding-window request limits in Redis, shared by every API instance.

A limit is a counter per key and window (`ratelimit:{name:key digest}:{window}`), read as a
sliding window: what the last `window_s` seconds counted is estimated as this window's count
plus the previous window's, weighted by how much of it still lies within the last `window_s`
(the two-bucket weighted window). So no burst gets twice the budget across a window's edge, as
fixed clock windows allowed (5 invitations at :59:57 and 5 more at :00:00), and each check
still costs one script, in the same round trip as the others: the two counters of a key share
a hash tag, so they are one slot's on a cluster too. Two ways to spend it:
- `enforce` counts every request: for actions that are costly whether or not they succeed
  (a sign-up makes an account; a write that notifies someone);
- `reserve` counts an attempt that may turn out a failure, and `Reservation.refund` gives it back
  when it succeeds: for guess-and-check routes (a password, a refresh token), where only failures
  should count, so that someone's mistakes spend only the budgets of the keys they share with
  it. Counting first and refunding after closes the race in which a burst of concurrent guesses
  all pass the check before any of them has failed. A refused attempt counts nothing.

When Redis is unavailable the request goes through: a limiter must not take logins down with it.

Keys are client addresses (`client_address`, which believes `X-Forwarded-For` only from
`TRUSTED_PROXIES`), accounts or users; they are hashed, so no email appears in a key name.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_address

from aiohttp import web

from shared.errors import ApiError
from shared.keys import redis_key, settings_key
from shared.redis_client import RedisClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    max_requests: int
    window_s: int


Check = tuple[Limit, str]


@dataclass(slots=True)
class ForwardedForWarning:
    """Whether this app has said that it ignores an untrusted peer's X-Forwarded-For: once."""

    given: bool = False


forwarded_for_warning_key = web.AppKey("forwarded_for_warning", ForwardedForWarning)


# The clock the windows are read with (a test may set it to stand at a window's edge).
clock: Callable[[], float] = time.time

# KEYS: this window's counter, the previous window's (one hash tag: one slot on a cluster);
# ARGV: the counter's lifetime (two windows, as the next window reads it). Returns both counts.
_COUNT = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
return {count, previous}
"""


def client_address(request: web.Request) -> str:
    """The client's address: the peer's, or behind proxies listed in TRUSTED_PROXIES the
    nearest X-Forwarded-For hop that is not one of them (hops further left are the client's own
    claims, which anyone can forge)."""
    peer = request.remote or "unknown"
    proxies = request.app[settings_key].trusted_proxies
    if not proxies or not _among(peer, proxies):
        if "X-Forwarded-For" in request.headers:
            _warn_untrusted_forwarded_for(request.app)
        return peer
    hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", ()) for h in v.split(",")]
    for hop in reversed(hops):
        if hop and not _among(hop, proxies):
            return hop
    return peer


def _warn_untrusted_forwarded_for(app: web.Application) -> None:
    warning = app[forwarded_for_warning_key]
    if not warning.given:
        warning.given = True
        log.warning(
            "ignoring X-Forwarded-For from a peer not in TRUSTED_PROXIES: rate limits key on "
            "the peer's address; behind a reverse proxy, set TRUSTED_PROXIES to its address"
        )


def _among(address: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _counter(limit: Limit, key: str, window: int) -> str:
    digest = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
    return f"ratelimit:{{{limit.name}:{digest}}}:{window}"


def _sliding(limit: Limit, now: float, count: int, previous: int) -> int | None:
    """Seconds until one more attempt fits, if this one (already in `count`) went over the
    budget of the last `window_s` seconds; None if it fits. The estimate: `count` plus
    `previous` weighted by the share of the previous window still within the last window_s."""
    start = (now // limit.window_s) * limit.window_s
    elapsed = (now - start) / limit.window_s  # 0..1 into this window
    if count + previous * (1 - elapsed) <= limit.max_requests:
        return None
    room = limit.max_requests - 1  # one more must fit
    if count <= room and previous > 0:
        # The previous window's weight falls until one more fits, within this window.
        at = start + (1 - (room - count) / previous) * limit.window_s
    else:
        # This window's own count must fade, during the next one.
        at = start + limit.window_s + (1 - room / count) * limit.window_s
    # Never more than a window: by then a true sliding window has let every counted attempt go.
    return max(1, min(limit.window_s, math.ceil(at - now)))


def _too_many(retry_after_s: int) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        "too many attempts; try again later",
        headers={"Retry-After": str(max(1, retry_after_s))},
    )


@dataclass(slots=True)
class Reservation:
    """Attempts counted by `reserve`; `refund` them when the attempt succeeded."""

    redis: RedisClient | None = None
    counters: list[str] = field(default_factory=list)

    async def refund(self) -> None:
        if self.redis is None or not self.counters:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for counter in self.counters:
                    pipe.decr(counter)
                await pipe.execute()
        except Exception as exc:
            log.warning("rate limit not refunded (%s)", type(exc).__name__)
        self.counters = []


async def _count(redis: RedisClient, checks: tuple[Check, ...]) -> tuple[list[str], int | None]:
    """Count one attempt against every check; (their counters, seconds until the attempt would
    fit every sliding window, or None if it fits them now)."""
    now = clock()
    windows = [int(now // limit.window_s) for limit, _ in checks]
    counters = [
        _counter(limit, key, window) for (limit, key), window in zip(checks, windows, strict=True)
    ]
    # One script a key: each counts atomically, and on a cluster each is its own slot's (a
    # MULTI over several keys would be refused there, CROSSSLOT).
    async with redis.pipeline(transaction=False) as pipe:
        for (limit, key), window, counter in zip(checks, windows, counters, strict=True):
            pipe.eval(_COUNT, 2, counter, _counter(limit, key, window - 1), 2 * limit.window_s + 1)
        replies = await pipe.execute()
    retry_after: int | None = None
    for (limit, _), (count, previous) in zip(checks, replies, strict=True):
        wait = _sliding(limit, now, int(count), int(previous))
        if wait is not None:
            retry_after = max(retry_after or 0, wait)
    return counters, retry_after


async def enforce(request: web.Request, *checks: Check) -> None:
    """Count this request; 429 `rate_limited` with `Retry-After` once any check is exhausted."""
    try:
        _, retry_after = await _count(request.app[redis_key], checks)
    except Exception as exc:
        log.warning("rate limit not checked (%s); letting the request through", type(exc).__name__)
        return
    if retry_after is not None:
        raise _too_many(retry_after)


async def reserve(request: web.Request, *checks: Check) -> Reservation:
    """Count an attempt that may fail, or refuse it 429 (counting nothing) once any check is
    exhausted; `refund` the reservation if the attempt succeeds."""
    redis = request.app[redis_key]
    try:
        counters, retry_after = await _count(redis, checks)
    except Exception as exc:
        log.warning("rate limit not checked (%s); letting the request through", type(exc).__name__)
        return Reservation()
    reservation = Reservation(redis, counters)
    if retry_after is not None:
        await reservation.refund()
        raise _too_many(retry_after)
    return reservation


async def reset(request: web.Request, check: Check) -> None:
    """Forget what this window counted for one key (a login succeeded: its mistakes are over)."""
    limit, key = check
    window = int(clock() // limit.window_s)
    try:
        # Both windows the sliding estimate reads (one slot: the hash tag is the same).
        await request.app[redis_key].delete(
            _counter(limit, key, window), _counter(limit, key, window - 1)
        )
    except Exception as exc:
        log.warning("rate limit not reset (%s)", type(exc).__name__)
