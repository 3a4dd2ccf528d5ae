"""OAuth2 access tokens for FCM, minted from a service-account file.

google-auth signs the JWT assertion locally (CPU only); we post it to the file's `token_uri`
ourselves with aiohttp, because google-auth's own refresh is a blocking HTTP call that would
stall every send in flight. One refresh runs at a time and every waiting sender shares its result.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from google.auth import crypt, jwt

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_S = 3600
# Refresh this long before Google's expiry, so a token never expires between check and use.
REFRESH_MARGIN_S = 300.0


class TokenError(Exception):
    """The token endpoint gave no token; a send that needed one is retried later."""


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    client_email: str
    token_uri: str
    signer: crypt.Signer

    @classmethod
    def from_file(cls, path: str | Path) -> ServiceAccount:
        info: dict[str, Any] = json.loads(Path(path).read_text())
        missing = [k for k in ("client_email", "private_key") if not info.get(k)]
        if missing:
            raise ValueError(f"service-account file lacks {', '.join(missing)}")
        return cls(
            client_email=info["client_email"],
            token_uri=info.get("token_uri") or GOOGLE_TOKEN_URI,
            signer=crypt.RSASigner.from_service_account_info(info),  # type: ignore[no-untyped-call]
        )

    def assertion(self, now: int) -> str:
        payload = {
            "iss": self.client_email,
            "scope": FCM_SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_S,
        }
        encoded: bytes = jwt.encode(self.signer, payload)  # type: ignore[no-untyped-call]
        return encoded.decode()


class AccessTokens:
    """A cached access token, refreshed shortly before it expires."""

    def __init__(
        self, session: aiohttp.ClientSession, account: ServiceAccount, *, timeout_s: float
    ) -> None:
        self._session = session
        self._account = account
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._token: str | None = None
        self._refresh_at = 0.0
        self._refreshing: asyncio.Task[str] | None = None
        self.refreshes: dict[str, int] = {}  # "ok" / "error": how many, for the metrics

    async def get(self) -> str:
        if self._token is not None and time.monotonic() < self._refresh_at:
            return self._token
        if self._refreshing is None:
            self._refreshing = asyncio.create_task(self._fetch())
            self._refreshing.add_done_callback(self._refresh_done)
        # Shielded: a cancelled sender must not cancel the refresh the others wait for.
        return await asyncio.shield(self._refreshing)

    def invalidate(self, token: str) -> None:
        """FCM refused `token` (revoked, clock skew): mint a new one on the next send."""
        if self._token == token:
            self._token = None

    async def aclose(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()

    def _refresh_done(self, task: asyncio.Task[str]) -> None:
        self._refreshing = None
        if not task.cancelled():
            # Retrieved here, so no waiter-less failure is reported as lost.
            result = "error" if task.exception() else "ok"
            self.refreshes[result] = self.refreshes.get(result, 0) + 1

    async def _fetch(self) -> str:
        form = {
            "grant_type": JWT_BEARER_GRANT,
            "assertion": self._account.assertion(int(time.time())),
        }
        try:
            async with self._session.post(
                self._account.token_uri, data=form, timeout=self._timeout
            ) as resp:
                if resp.status != 200:
                    raise TokenError(f"token endpoint answered {resp.status}")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise TokenError(f"token endpoint unreachable: {type(exc).__name__}") from exc
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise TokenError("token endpoint answered without an access_token")
        token: str = body["access_token"]
        expires_in = body.get("expires_in")
        lifetime = (
            float(expires_in) if isinstance(expires_in, int | float) else ASSERTION_LIFETIME_S
        )
        self._token = token
        self._refresh_at = time.monotonic() + max(lifetime - REFRESH_MARGIN_S, lifetime / 2)
        return token
