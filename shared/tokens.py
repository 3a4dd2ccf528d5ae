"""JWT access and refresh tokens (HS256, PyJWT).

Every token carries `sub` (the user id), `sid` (its session, CONTRACT section 3: Sessions),
its own `jti`, `exp` and `typ`. The `typ` claim keeps a refresh token from ever passing as an
access token; the `jti` makes every token unique (two logins in one second differ) and names
the one refresh token of a session that may be used next; the `sid` lets every process refuse
the tokens of a session that ended (shared/ended_sessions.py).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

import jwt

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]
REQUIRED_CLAIMS = ["exp", "sub", "typ", "sid", "jti"]
# Access tokens a process keeps verified (VerifiedAccessTokens): about 0.8 KB each.
VERIFIED_TOKENS_KEPT = 20_000


class InvalidToken(Exception):
    """Missing, malformed, expired, wrongly signed or of the wrong type."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    jti: uuid.UUID
    expires_at: dt.datetime


def issue_token(
    key: str,
    user_id: uuid.UUID,
    token_type: TokenType,
    ttl_s: int,
    *,
    session_id: uuid.UUID,
    jti: uuid.UUID | None = None,
) -> tuple[str, dt.datetime]:
    """A signed token and when it expires; its `jti` is new unless the caller chose it."""
    now = dt.datetime.now(dt.UTC)
    expires_at = now + dt.timedelta(seconds=ttl_s)
    jti = jti or uuid.uuid4()
    claims: dict[str, object] = {
        "sub": str(user_id),
        "sid": str(session_id),
        "jti": str(jti),
        "typ": token_type,
        "iat": now,
        "exp": expires_at,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM), expires_at


def verify_token(
    key: str, token: str, token_type: TokenType, *, allow_expired: bool = False
) -> TokenClaims:
    """The claims of a token we signed, of this type; `allow_expired` for sign-out only, which
    ends a session whatever state its token is in."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options={"require": REQUIRED_CLAIMS, "verify_exp": not allow_expired},
        )
        if claims["typ"] != token_type:
            raise InvalidToken(f"not an {token_type} token")
        return TokenClaims(
            user_id=uuid.UUID(claims["sub"]),
            session_id=uuid.UUID(claims["sid"]),
            jti=uuid.UUID(claims["jti"]),
            expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC),
        )
    # OverflowError: a validly signed `exp` beyond any date (10**20) is as invalid as a bad one.
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise InvalidToken(str(exc)) from None


class VerifiedAccessTokens:
    """The access tokens this process has verified, with their claims, most recent last.

    An app polls its feed and comments every 30 s with the same token until it refreshes it,
    and verifying HS256 with PyJWT was the largest part of a feed poll's own work
    (bench/RESULTS.md), so a token seen before is a dictionary lookup. The key is the whole
    token: one that differs in a byte (a forged payload, another signature) is verified
    afresh, and only a token that passed verification is kept. A kept token past its `exp` is
    refused as PyJWT refuses it. Only what the token itself proves is kept: whether its
    session has ended is still asked on every request (shared/ended_sessions.py). Bounded: the
    least recently used goes first.
    """

    def __init__(self, key: str, kept: int = VERIFIED_TOKENS_KEPT) -> None:
        self._key = key
        self._kept = kept
        self._verified: OrderedDict[str, tuple[TokenClaims, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._verified)

    def __contains__(self, token: object) -> bool:
        return token in self._verified

    def verify(self, token: str) -> TokenClaims:
        """The claims of a valid access token, or InvalidToken (as `verify_token`)."""
        verified = self._verified.get(token)
        if verified is None:
            claims = verify_token(self._key, token, "access")
            verified = (claims, claims.expires_at.timestamp())
            if len(self._verified) >= self._kept:
                self._verified.popitem(last=False)
            self._verified[token] = verified
        else:
            self._verified.move_to_end(token)
        claims, expires = verified
        if expires <= time.time():  # PyJWT's own rule: expired once `exp` is not in the future
            del self._verified[token]
            raise InvalidToken("Signature has expired")
        return claims


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
