"""JWT access and refresh tokens (HS256, PyJWT).

Both kinds carry `sub` (the user id), `exp` and `typ`; the `typ` claim keeps a refresh token from
ever passing as an access token. Refresh tokens also carry a `jti` the API records, so each one
works once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

import jwt

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]


class InvalidToken(Exception):
    """Missing, malformed, expired, wrongly signed or of the wrong type."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: uuid.UUID
    jti: uuid.UUID | None
    expires_at: dt.datetime


def issue_token(
    key: str,
    user_id: uuid.UUID,
    token_type: TokenType,
    ttl_s: int,
    jti: uuid.UUID | None = None,
) -> tuple[str, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    expires_at = now + dt.timedelta(seconds=ttl_s)
    claims: dict[str, object] = {
        "sub": str(user_id),
        "typ": token_type,
        "iat": now,
        "exp": expires_at,
    }
    if jti is not None:
        claims["jti"] = str(jti)
    return jwt.encode(claims, key, algorithm=ALGORITHM), expires_at


def verify_token(key: str, token: str, token_type: TokenType) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "typ"]},
        )
        if claims["typ"] != token_type:
            raise InvalidToken(f"not an {token_type} token")
        jti = claims.get("jti")
        return TokenClaims(
            user_id=uuid.UUID(claims["sub"]),
            jti=uuid.UUID(jti) if jti is not None else None,
            expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC),
        )
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidToken(str(exc)) from None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
