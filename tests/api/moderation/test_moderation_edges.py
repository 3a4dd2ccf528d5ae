"""Edges of reports and moderation a black-box review found (CONTRACT sections 3 and 6): who may
report what across a block, suspended people in follow requests, suspended staff, a restore that
sticks, strict input, and times in snapshots."""

from __future__ import annotations

import re
import uuid

import asyncpg

from tests.api.moderation.staff_support import make_staff, sign_in, staff_call
from tests.api.moderation.test_actions import report
from tests.api.walk_support import post_walk
from tests.support import Api, assert_error


async def test_a_blocked_person_cannot_report_the_blockers_comment(api: Api) -> None:
    owner, blocker, blocked = await api.signup(), await api.signup(), await api.signup()
    walk = await post_walk(api, owner)
    comment = await api.call(
        "POST", f"/walks/{walk['id']}/comments", blocker, expect=201, json={"body": "hi"}
    )
    await api.call("POST", f"/users/{blocked.id}/block", blocker, expect=201)
    target = {"type": "comment", "id": comment["id"]}
    refused = await api.call(
        "POST", "/reports", blocked, expect=404, json={"target": target, "reason": "spam"}
    )
    assert_error(refused, "not_found")
    # The blocker may still report the blocked person's words (block first, report after).
    theirs = await api.call(
        "POST", f"/walks/{walk['id']}/comments", blocked, expect=201, json={"body": "hey"}
    )
    await report(api, blocker, "comment", theirs["id"])


async def test_a_suspended_requester_leaves_follow_requests_and_cannot_be_approved(
    api: Api, db: asyncpg.Connection
) -> None:
    star, fan = await api.signup(), await api.signup()
    await api.call("PATCH", "/me", star, expect=200, json={"approve_followers": True})
    await api.call("POST", f"/users/{star.id}/follow", fan, expect=202)
    await db.execute(
        "UPDATE users SET suspended_until = now() + interval '1 day' WHERE id = $1",
        uuid.UUID(fan.id),
    )
    listed = await api.call("GET", "/me/follow-requests", star, expect=200)
    assert listed["items"] == []
    await api.call("POST", f"/me/follow-requests/{fan.id}/approve", star, expect=404)
    await db.execute("UPDATE users SET suspended_until = NULL WHERE id = $1", uuid.UUID(fan.id))
    listed = await api.call("GET", "/me/follow-requests", star, expect=200)
    assert [i["id"] for i in listed["items"]] == [fan.id]


async def test_a_suspended_staff_members_console_session_ends(
    api: Api, db: asyncpg.Connection, database_url: str
) -> None:
    member = await make_staff(api, database_url)
    await sign_in(api, member)
    await staff_call(api, "GET", "/admin/api/reports", None, expect=200)
    await db.execute(
        "UPDATE users SET suspended_until = 'infinity' WHERE id = $1", uuid.UUID(member.user.id)
    )
    await staff_call(api, "GET", "/admin/api/reports", None, expect=401)


async def test_a_restore_of_auto_hidden_content_holds_against_the_same_reports(
    api: Api, db: asyncpg.Connection, database_url: str
) -> None:
    author, other = await api.signup(), await api.signup()
    walk = await post_walk(api, author)
    reporters = [await api.signup() for _ in range(4)]
    await db.execute(
        "UPDATE users SET created_at = now() - interval '48 hours' WHERE id = ANY($1::uuid[])",
        [u.id for u in reporters],
    )
    for reporter in reporters[:3]:
        await report(api, reporter, "walk", walk["id"])
    await api.call("GET", f"/walks/{walk['id']}", other, expect=404)
    member = await make_staff(api, database_url)
    session = await sign_in(api, member)
    await staff_call(
        api,
        "POST",
        f"/admin/api/content/walk/{walk['id']}/restore",
        session["csrf_token"],
        expect=200,
    )
    await api.call("GET", f"/walks/{walk['id']}", other, expect=200)
    await report(api, reporters[3], "walk", walk["id"])  # one more: not three since the restore
    await api.call("GET", f"/walks/{walk['id']}", other, expect=200)


async def test_suspend_days_must_be_a_number_and_snapshot_times_carry_microseconds(
    api: Api, database_url: str
) -> None:
    author, reporter = await api.signup(), await api.signup()
    walk = await post_walk(api, author, memo="look")
    report_id = await report(api, reporter, "walk", walk["id"])
    member = await make_staff(api, database_url)
    session = await sign_in(api, member)
    refused = await staff_call(
        api,
        "POST",
        f"/admin/api/reports/{report_id}/resolve",
        session["csrf_token"],
        expect=422,
        json={"action": "suspend", "days": "3"},
    )
    assert_error(refused, "validation_error")
    queue = await staff_call(api, "GET", "/admin/api/reports", None, expect=200)
    started_at = queue["items"][0]["target"]["snapshot"]["started_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d", started_at)
