"""A local stand-in for Google: the OAuth2 token endpoint a service account posts its signed
assertion to, and FCM's HTTP v1 `messages:send`, scriptable per device token.

Speaks the documented protocol: the assertion is checked (RS256 with the account's public key,
audience = token_uri, the firebase.messaging scope), sends need a token this server issued, and
errors carry the google.rpc status and an FcmError errorCode, with `Retry-After` where given.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import jwt
import orjson
from aiohttp import web

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
RPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass(frozen=True)
class Reply:
    status: int = 200
    error_code: str | None = None
    retry_after: str | None = None
    hold: asyncio.Event | None = None  # answer only once this is set: a slow device


OK = Reply()
UNREGISTERED = Reply(404, "UNREGISTERED")
INVALID_ARGUMENT = Reply(400, "INVALID_ARGUMENT")


def quota_exceeded(retry_after: str) -> Reply:
    return Reply(429, "QUOTA_EXCEEDED", retry_after)


def unavailable(retry_after: str | None = None) -> Reply:
    return Reply(503, "UNAVAILABLE", retry_after)


def slow(hold: asyncio.Event) -> Reply:
    return Reply(hold=hold)


@dataclass
class Send:
    token: str
    message: dict[str, Any]
    arrived_at: float
    status: int | None = None  # None while unanswered
    answered_at: float | None = None


@dataclass
class FakeGoogle:
    public_key_pem: bytes
    client_email: str
    project_id: str
    token_uri: str = ""  # known once the server listens
    scripts: dict[str, deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    sends: list[Send] = field(default_factory=list)
    token_requests: int = 0
    token_failures_left: int = 0
    issued: set[str] = field(default_factory=set)
    _names: itertools.count[int] = field(default_factory=itertools.count)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1/projects/{project}/messages:send", self._send)
        return app

    def script(self, device_token: str, *replies: Reply) -> None:
        """The next answers for this device, in order; then 200."""
        self.scripts[device_token].extend(replies)

    def fail_token_endpoint(self, times: int = 1) -> None:
        self.token_failures_left = times

    def to(self, device_token: str) -> list[Send]:
        return [s for s in self.sends if s.token == device_token]

    def delivered(self, device_token: str) -> list[dict[str, Any]]:
        """Messages this device was actually pushed (answered 200)."""
        return [s.message for s in self.to(device_token) if s.status == 200]

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        try:
            claims = jwt.decode(
                str(form.get("assertion")),
                self.public_key_pem,
                algorithms=["RS256"],
                audience=self.token_uri,
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.InvalidTokenError as exc:
            return web.json_response({"error": "invalid_grant", "detail": str(exc)}, status=400)
        if claims["iss"] != self.client_email or FCM_SCOPE not in claims.get("scope", "").split():
            return web.json_response({"error": "invalid_scope"}, status=400)
        if self.token_failures_left:
            self.token_failures_left -= 1
            return web.json_response({"error": "internal_failure"}, status=500)
        token = f"ya29.{secrets.token_urlsafe(24)}"
        self.issued.add(token)
        return web.json_response(
            {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        )

    async def _send(self, request: web.Request) -> web.Response:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer not in self.issued:
            return _error(Reply(401))
        if request.match_info["project"] != self.project_id:
            return _error(Reply(404))
        message = orjson.loads(await request.read())["message"]
        if any(not isinstance(v, str) for v in message.get("data", {}).values()):
            return _error(INVALID_ARGUMENT)
        send = Send(message["token"], message, asyncio.get_running_loop().time())
        self.sends.append(send)
        script = self.scripts[send.token]
        reply = script.popleft() if script else OK
        if reply.hold is not None:
            await reply.hold.wait()
        send.status, send.answered_at = reply.status, asyncio.get_running_loop().time()
        if reply.status == 200:
            name = f"projects/{self.project_id}/messages/{next(self._names)}"
            return web.Response(body=orjson.dumps({"name": name}), content_type="application/json")
        return _error(reply)


def _error(reply: Reply) -> web.Response:
    details = [{"@type": FCM_ERROR_TYPE, "errorCode": reply.error_code}] if reply.error_code else []
    body = {
        "error": {
            "code": reply.status,
            "message": f"fake {reply.error_code or RPC_STATUS[reply.status]}",
            "status": RPC_STATUS[reply.status],
            "details": details,
        }
    }
    headers = {"Retry-After": reply.retry_after} if reply.retry_after else None
    return web.json_response(body, status=reply.status, headers=headers)
