"""`GET /me/location-log` (CONTRACT section 3, Location-access ledger): the caller's entries,
newest first and paginated, only the caller's, kept when the partner deletes their account, gone
with the owner's, and pruned after LOCATION_LOG_RETENTION_DAYS. The gateway's writing of the
entries is tested in tests/realtime/test_location_ledger.py."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg

from services.api.together.location_log import PRUNE_BATCH, prune_location_log
from tests.support import Api, User, assert_error

NOW = dt.datetime.now(dt.UTC)


async def add_entry(
    db: asyncpg.Connection,
    owner: User,
    partner: User | None,
    direction: str,
    first_at: dt.datetime,
    count: int = 1,
) -> str:
    invitation_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO location_access_log"
        " (user_id, invitation_id, direction, partner_id, first_at, last_at, count)"
        " VALUES ($1, $2, $3, $4, $5::timestamptz, $5::timestamptz + interval '30 minutes', $6)",
        uuid.UUID(owner.id),
        invitation_id,
        direction,
        uuid.UUID(partner.id) if partner else None,
        first_at,
        count,
    )
    return str(invitation_id)


async def log_of(api: Api, user: User, **params: str) -> dict[str, Any]:
    body: dict[str, Any] = await api.call(
        "GET", "/me/location-log", user, expect=200, params=params
    )
    return body


async def test_entries_newest_first_with_the_partner_and_pages(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, partner, stranger = await api.signup(), await api.signup("파트너"), await api.signup()
    old = await add_entry(db, owner, partner, "received", NOW - dt.timedelta(days=2), 5)
    new = await add_entry(db, owner, partner, "provided", NOW - dt.timedelta(hours=1), 7)
    await add_entry(db, stranger, partner, "provided", NOW)

    first = await log_of(api, owner, limit="1")
    [entry] = first["items"]
    assert entry == {
        "invitation_id": new,
        "partner": {"id": partner.id, "nickname": "파트너", "profile_image_url": None},
        "direction": "provided",
        "first_at": (NOW - dt.timedelta(hours=1)).isoformat(timespec="microseconds"),
        "last_at": (NOW - dt.timedelta(minutes=30)).isoformat(timespec="microseconds"),
        "count": 7,
    }
    second = await log_of(api, owner, limit="1", before=first["next_cursor"])
    assert [(e["invitation_id"], e["direction"], e["count"]) for e in second["items"]] == [
        (old, "received", 5)
    ]
    assert second["next_cursor"] is None
    # Nobody else's entries, and none for someone with none.
    assert [e["invitation_id"] for e in (await log_of(api, owner))["items"]] == [new, old]
    assert (await log_of(api, partner))["items"] == []


async def test_partner_deletion_keeps_the_entry_naming_no_one(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, partner = await api.signup(), await api.signup()
    await add_entry(db, owner, partner, "received", NOW, 3)
    await add_entry(db, partner, owner, "provided", NOW, 3)
    await db.execute("DELETE FROM users WHERE id = $1", uuid.UUID(partner.id))
    [entry] = (await log_of(api, owner))["items"]
    assert (entry["partner"], entry["direction"], entry["count"]) == (None, "received", 3)
    # The deleted person's own entries went with their account.
    assert (
        await db.fetchval(
            "SELECT count(*) FROM location_access_log WHERE user_id = $1", uuid.UUID(partner.id)
        )
        == 0
    )


async def test_entries_older_than_the_retention_are_pruned(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, partner = await api.signup(), await api.signup()
    retention_days = 183
    # last_at is first_at + 30 minutes: just past the retention, and just within it.
    await add_entry(
        db, owner, partner, "provided", NOW - dt.timedelta(days=retention_days, hours=1)
    )
    kept = await add_entry(
        db, owner, partner, "received", NOW - dt.timedelta(days=retention_days - 1)
    )
    assert await prune_location_log(db, retention_days, PRUNE_BATCH) == 1
    assert [e["invitation_id"] for e in (await log_of(api, owner))["items"]] == [kept]


async def test_needs_a_token_and_a_sane_page(api: Api) -> None:
    user = await api.signup()
    assert_error(await api.call("GET", "/me/location-log", expect=401), "unauthorized")
    body = await api.call("GET", "/me/location-log", user, expect=422, params={"before": "x"})
    assert_error(body, "validation_error")
