"""JWT access and refresh tokens (HS256, PyJWT).

Every token carries `sub` (the user id), `sid` (its session, CONTRACT section 3: Sessions),
its own `jti`, `exp` and `typ`. The `typ` claim keeps a refresh token from ever passing as an
access token; the `jti` makes every token unique (two logins in one second differ) and names
the one refresh token of a session that may be used next; the `sid` lets every process refuse
the tokens of a session that ended (shared/ended_sessions.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

import jwt

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]
REQUIRED_CLAIMS = ["exp", "sub", "typ", "sid", "jti"]


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


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
