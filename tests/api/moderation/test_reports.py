"""Reports (CONTRACT section 3): what a person may report, the snapshot kept at filing, the
reporter's own list, and the limits."""

from __future__ import annotations

import asyncpg

from tests.api.walk_support import post_walk
from tests.support import Api, assert_error, make_settings

REPORT_KEYS = {"id", "target", "reason", "note", "status", "created_at", "resolved_at"}


async def test_a_report_is_filed_open_with_the_contract_fields(api: Api) -> None:
    author, reporter = await api.signup("author"), await api.signup("reporter")
    walk = await post_walk(api, author, memo="spam spam")
    body = await api.call(
        "POST",
        "/reports",
        reporter,
        expect=201,
        json={"target": {"type": "walk", "id": walk["id"]}, "reason": "spam", "note": "ads"},
    )
    assert set(body) == REPORT_KEYS
    assert body["target"] == {"type": "walk", "id": walk["id"]}
    assert (body["reason"], body["note"], body["status"]) == ("spam", "ads", "open")
    assert body["resolved_at"] is None


async def test_the_same_open_report_again_answers_200_with_that_report(api: Api) -> None:
    author, reporter = await api.signup(), await api.signup()
    target = {"type": "user", "id": author.id}
    first = await api.call(
        "POST", "/reports", reporter, expect=201, json={"target": target, "reason": "spam"}
    )
    again = await api.call(
        "POST", "/reports", reporter, expect=200, json={"target": target, "reason": "hate"}
    )
    assert again == first


async def test_reporting_oneself_or_ones_own_content_is_422(api: Api) -> None:
    me = await api.signup()
    walk = await post_walk(api, me)
    comment = await api.call(
        "POST", f"/walks/{walk['id']}/comments", me, expect=201, json={"body": "mine"}
    )
    for target in (
        {"type": "user", "id": me.id},
        {"type": "walk", "id": walk["id"]},
        {"type": "comment", "id": comment["id"]},
    ):
        body = await api.call(
            "POST", "/reports", me, expect=422, json={"target": target, "reason": "spam"}
        )
        assert_error(body, "validation_error")


async def test_what_the_reporter_cannot_see_is_404(api: Api) -> None:
    author, stranger = await api.signup(), await api.signup()
    private = await post_walk(api, author, visibility="private")
    await api.call("POST", f"/users/{stranger.id}/block", author, expect=201)
    for target in (
        {"type": "walk", "id": private["id"]},
        {"type": "user", "id": author.id},
        {"type": "comment", "id": private["id"]},
        {"type": "walk", "id": "00000000-0000-0000-0000-000000000000"},
    ):
        body = await api.call(
            "POST", "/reports", stranger, expect=404, json={"target": target, "reason": "spam"}
        )
        assert_error(body, "not_found")


async def test_a_blocker_can_still_report_the_person_they_blocked(api: Api) -> None:
    blocker, blocked = await api.signup(), await api.signup()
    walk = await post_walk(api, blocked)
    await api.call("POST", f"/users/{blocked.id}/block", blocker, expect=201)
    for target in ({"type": "user", "id": blocked.id}, {"type": "walk", "id": walk["id"]}):
        await api.call(
            "POST", "/reports", blocker, expect=201, json={"target": target, "reason": "harassment"}
        )


async def test_bad_bodies_are_422_naming_the_field(api: Api) -> None:
    reporter = await api.signup()
    for body in (
        {"target": {"type": "dog", "id": reporter.id}, "reason": "spam"},
        {"target": {"type": "user", "id": reporter.id}, "reason": "boring"},
        {"target": {"type": "user", "id": "x"}, "reason": "spam"},
        {"target": {"type": "user", "id": reporter.id}, "reason": "spam", "note": "n" * 1001},
    ):
        answer = await api.call("POST", "/reports", reporter, expect=422, json=body)
        assert_error(answer, "validation_error")


async def test_the_snapshot_outlives_edits_deletion_and_the_account(
    api: Api, db: asyncpg.Connection
) -> None:
    author, reporter = await api.signup("snapauthor"), await api.signup()
    walk = await post_walk(api, author, memo="the words as reported")
    comment = await api.call(
        "POST", f"/walks/{walk['id']}/comments", author, expect=201, json={"body": "nasty words"}
    )
    for target in ({"type": "walk", "id": walk["id"]}, {"type": "comment", "id": comment["id"]}):
        await api.call(
            "POST", "/reports", reporter, expect=201, json={"target": target, "reason": "hate"}
        )
    await api.call("PATCH", "/me", author, expect=200, json={"nickname": "renamed"})
    await api.call("DELETE", "/me", author, expect=204, json={"password": "correct horse"})
    snapshots = {
        r["target_type"]: r["snapshot"]
        for r in await db.fetch("SELECT target_type, snapshot FROM reports")
    }
    assert snapshots["walk"]["memo"] == "the words as reported"
    assert snapshots["comment"]["body"] == "nasty words"
    assert snapshots["walk"]["author"] == {"id": author.id, "nickname": "snapauthor"}


async def test_my_reports_are_listed_newest_first_without_evidence(api: Api) -> None:
    a, b, reporter = await api.signup(), await api.signup(), await api.signup()
    first = await api.call(
        "POST",
        "/reports",
        reporter,
        expect=201,
        json={"target": {"type": "user", "id": a.id}, "reason": "spam"},
    )
    second = await api.call(
        "POST",
        "/reports",
        reporter,
        expect=201,
        json={"target": {"type": "user", "id": b.id}, "reason": "other"},
    )
    page = await api.call("GET", "/me/reports?limit=1", reporter, expect=200)
    assert [r["id"] for r in page["items"]] == [second["id"]]
    assert set(page["items"][0]) == REPORT_KEYS
    rest = await api.call(
        "GET", f"/me/reports?limit=1&before={page['next_cursor']}", reporter, expect=200
    )
    assert [r["id"] for r in rest["items"]] == [first["id"]]
    assert (await api.call("GET", "/me/reports", a, expect=200))["items"] == []


async def test_more_than_the_hourly_report_limit_is_429(
    aiohttp_client: object, database_url: str, redis_url: str
) -> None:
    from services.api.app import create_app

    settings = make_settings(database_url, redis_url, report_limit_per_user=2)
    api = Api(await aiohttp_client(create_app(settings)))  # type: ignore[operator]
    reporter = await api.signup()
    targets = [await api.signup() for _ in range(3)]
    for target in targets[:2]:
        await api.call(
            "POST",
            "/reports",
            reporter,
            expect=201,
            json={"target": {"type": "user", "id": target.id}, "reason": "spam"},
        )
    body = await api.call(
        "POST",
        "/reports",
        reporter,
        expect=429,
        json={"target": {"type": "user", "id": targets[2].id}, "reason": "spam"},
    )
    assert_error(body, "rate_limited")
