"""Staff set-up for the moderation tests: a role granted by the command (never over HTTP), the
TOTP secret read back from the printed otpauth URI, and a console session in a cookie."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pyotp

from services.api import staff as staff_command
from tests.support import Api, User

PASSWORD = "correct horse"


@dataclass
class StaffMember:
    user: User
    secret: str
    role: str
    used_steps: set[int] = field(default_factory=set)

    def code(self) -> str:
        """A code of a time step not used yet (now, or the next one: clocks drift)."""
        now = int(time.time() // 30)
        step = next(s for s in (now, now + 1, now - 1) if s not in self.used_steps)
        self.used_steps.add(step)
        return pyotp.TOTP(self.secret).at(step * 30)


async def grant(database_url: str, user: User, role: str = "moderator") -> StaffMember:
    out = io.StringIO()
    assert await staff_command.run(["grant", user.email, role], database_url, out) == 0
    uri = next(line for line in out.getvalue().splitlines() if line.startswith("otpauth://"))
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    return StaffMember(user, secret, role)


async def make_staff(api: Api, database_url: str, role: str = "moderator") -> StaffMember:
    user = await api.signup(f"{role}{int(time.time() * 1000) % 100000}")
    return await grant(database_url, user, role)


async def sign_in(api: Api, member: StaffMember, expect: int = 200) -> Any:
    """Sign in (the cookie lands in the test client's jar); the session body."""
    resp = await api.client.post(
        "/admin/api/session",
        json={"email": member.user.email, "password": PASSWORD, "totp": member.code()},
    )
    body = await resp.json()
    assert resp.status == expect, body
    return body


async def staff_call(
    api: Api, method: str, path: str, csrf: str | None, *, expect: int | None = None, **kwargs: Any
) -> Any:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    resp = await api.client.request(method, path, headers=headers, **kwargs)
    text = await resp.text()
    if expect is not None:
        assert resp.status == expect, f"{method} {path}: {resp.status} {text}"
    return await resp.json() if text else None


async def audit_actions(db: asyncpg.Connection) -> list[str]:
    return [r["action"] for r in await db.fetch("SELECT action FROM audit_log ORDER BY at, id")]
