"""The caller's own user object (the only one that shows an email), as `/me` answers it and
changes it; sign-in's answers and the data export show the same object."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit

import asyncpg
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, field_validator

from services.api.filtering.fields import PublicLine

ME_COLUMNS = (
    "id, email, nickname, profile_image_url, approve_followers, created_at,"
    " email_verified_at IS NOT NULL AS email_verified"
)


def _http_url(value: str) -> str:
    """Only absolute http(s) URLs: the apps load this as an image, nothing else is safe to fetch."""
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("URL must not contain whitespace or control characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http or https URL")
    return value


HttpUrlText = Annotated[str, Field(max_length=2048), AfterValidator(_http_url)]


class MePatch(BaseModel):
    """Absent fields stay as they are; `profile_image_url: null` clears the image."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    nickname: PublicLine | None = Field(default=None, min_length=1, max_length=30)
    profile_image_url: HttpUrlText | None = None
    approve_followers: StrictBool | None = None

    @field_validator("nickname", "approve_followers")
    @classmethod
    def _not_null(cls, value: str | bool | None) -> str | bool:
        if value is None:
            raise ValueError("cannot be null")
        return value


async def fetch_me(conn: asyncpg.Connection, user_id: uuid.UUID) -> dict[str, Any] | None:
    """The caller's own user object (the only one that shows an email)."""
    row = await conn.fetchrow(f"SELECT {ME_COLUMNS} FROM users WHERE id = $1", user_id)
    return dict(row) if row else None


async def update_me(
    conn: asyncpg.Connection, user_id: uuid.UUID, patch: MePatch
) -> dict[str, Any] | None:
    """Update the caller. Call inside a transaction: switching `approve_followers` off approves
    what is pending (the row lock taken here orders it with concurrent follows)."""
    row = await conn.fetchrow(
        f"""UPDATE users
            SET nickname = COALESCE($2, nickname),
                profile_image_url = CASE WHEN $3 THEN $4 ELSE profile_image_url END,
                approve_followers = COALESCE($5, approve_followers)
            WHERE id = $1
            RETURNING {ME_COLUMNS}""",
        user_id,
        patch.nickname,
        "profile_image_url" in patch.model_fields_set,
        patch.profile_image_url,
        patch.approve_followers,
    )
    return dict(row) if row else None
