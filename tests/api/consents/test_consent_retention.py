"""Consent records outlive the account by five years, and then go (CONTRACT section 3)."""

from __future__ import annotations

import uuid

import asyncpg

from services.api.consents.retention import prune_consent_records
from tests.support import Api


async def records_of(db: asyncpg.Connection, user_id: str) -> int:
    count: int = await db.fetchval(
        "SELECT count(*) FROM consent_records WHERE user_id = $1", uuid.UUID(user_id)
    )
    return count


async def test_records_are_kept_five_years_after_the_account_then_deleted(
    api: Api, db: asyncpg.Connection
) -> None:
    leaver, stayer = await api.signup(), await api.signup()
    await api.call("DELETE", "/me", leaver, expect=204, json={"password": "correct horse"})
    kept = await records_of(db, leaver.id)
    assert kept == 3
    assert await prune_consent_records(db) == 0
    assert await records_of(db, leaver.id) == kept

    await db.execute(
        "UPDATE consent_retention SET account_deleted_at = now() - interval '5 years 2 days'"
    )
    assert await prune_consent_records(db) == 1
    assert await records_of(db, leaver.id) == 0
    assert await db.fetchval("SELECT count(*) FROM consent_retention") == 0
    assert await records_of(db, stayer.id) == 3  # a live account's records stay
