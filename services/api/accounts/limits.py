"""How the account routes key their limits (CONTRACT section 3, Rate limits).

Failures count, not attempts (web/rate_limit.py `reserve`), except for sign-ups, which make
accounts. Each failure is counted against keys chosen so that no one can spend someone else's
budget:
- a login against (account, address), a per-account ceiling far above it, and a per-address
  ceiling far above that; the per-account ceiling counts and refuses failures only, after the
  password was checked, so the owner's right password always gets through (argon2 costs the
  same either way); a wrong password sent for an account from another address does not
  touch its owner's (account, address) budget, a success there forgets that budget's failures,
  and an address whose account has signed in there before (a sign-up or a login, remembered
  for a refresh token's lifetime) is exempt from both ceilings: guesses from elsewhere or a
  noisy neighbour behind the same NAT do not lock the owner out;
- a refresh token that is not one of ours (at `/auth/refresh` or `/auth/logout`) against its
  address; a valid refresh token is never refused for anyone's junk, as it cannot be guessed
  and there is nothing to slow down;
- a wrong current password (`/me/password`) against its user.
"""

from __future__ import annotations

import hashlib
import logging
import uuid

from aiohttp import web
from redis.exceptions import RedisError

from services.api.web.rate_limit import (
    Check,
    Limit,
    Reservation,
    client_address,
    enforce,
    reserve,
    reset,
)
from shared.keys import redis_key, settings_key

log = logging.getLogger(__name__)


def _known_key(account: str, address: str) -> str:
    digest = hashlib.blake2b(f"{account}|{address}".encode(), digest_size=12).hexdigest()
    return f"ratelimit:known:{digest}"


async def count_signup(request: web.Request) -> None:
    settings = request.app[settings_key]
    limit = Limit("signup-addr", settings.signup_limit_per_address, settings.signup_window_s)
    await enforce(request, (limit, client_address(request)))


def _account_address_check(request: web.Request, account: str, address: str) -> Check:
    settings = request.app[settings_key]
    limit = Limit(
        "login-acct-addr",
        settings.login_failure_limit_per_account_address,
        settings.auth_failure_window_s,
    )
    return limit, f"{account}|{address}"


async def reserve_login(request: web.Request, email: str) -> Reservation:
    """Before the password is checked: the (account, address) and per-address budgets, which
    slow guessing from any one place. The per-account ceiling is not among them: it is applied
    to failures only, after the password was checked (`count_login_failure`), so that wrong
    passwords sent from elsewhere never stop the owner's right one."""
    settings = request.app[settings_key]
    window_s = settings.auth_failure_window_s
    account, address = email.lower(), client_address(request)
    checks = [_account_address_check(request, account, address)]
    if not await _signed_in_there_before(request, account, address):
        checks.append(
            (Limit("login-addr", settings.login_failure_limit_per_address, window_s), address)
        )
    return await reserve(request, *checks)


async def count_login_failure(request: web.Request, email: str) -> None:
    """A wrong password: count it against the account's ceiling (unless the address is one the
    account signed in from before); 429 once the account has had too many, which tells a
    distributed guesser to stop without ever refusing a right password."""
    settings = request.app[settings_key]
    account, address = email.lower(), client_address(request)
    if await _signed_in_there_before(request, account, address):
        return
    limit = Limit(
        "login-acct", settings.login_failure_limit_per_account, settings.auth_failure_window_s
    )
    await enforce(request, (limit, account))


async def _signed_in_there_before(request: web.Request, account: str, address: str) -> bool:
    try:
        return bool(await request.app[redis_key].exists(_known_key(account, address)))
    except (RedisError, OSError) as exc:
        log.warning("known sign-in addresses not read (%s)", type(exc).__name__)
        return False


async def remember_sign_in(request: web.Request, email: str) -> None:
    """This account signed in (or up) from this address: its mistakes there are forgotten, and
    the login ceilings spare it there from now on."""
    settings = request.app[settings_key]
    account, address = email.lower(), client_address(request)
    await reset(request, _account_address_check(request, account, address))
    try:
        await request.app[redis_key].set(
            _known_key(account, address), 1, ex=settings.refresh_token_ttl_s
        )
    except (RedisError, OSError) as exc:
        log.warning("sign-in address not remembered (%s)", type(exc).__name__)


async def count_refresh_failure(request: web.Request) -> None:
    """Count a refresh token that is not one of ours; 429 once its address has sent too many."""
    settings = request.app[settings_key]
    limit = Limit(
        "refresh-addr", settings.refresh_failure_limit_per_address, settings.auth_failure_window_s
    )
    await reserve(request, (limit, client_address(request)))


async def count_link_failure(request: web.Request) -> None:
    """Count an emailed link's token that does not work (unknown, used, expired) against its
    address, as a junk refresh token is; 429 once that address has sent too many."""
    settings = request.app[settings_key]
    window_s = settings.auth_failure_window_s
    limit = Limit("link-token-addr", settings.refresh_failure_limit_per_address, window_s)
    await reserve(request, (limit, client_address(request)))


async def reserve_password_check(request: web.Request, user_id: uuid.UUID) -> Reservation:
    settings = request.app[settings_key]
    limit = Limit(
        "password-user", settings.password_failure_limit_per_user, settings.auth_failure_window_s
    )
    return await reserve(request, (limit, str(user_id)))
