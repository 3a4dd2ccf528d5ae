"""The moderation actions (CONTRACT section 6): the queue by target, hide and restore, suspend
and unsuspend, ban, dismiss, auto-hide, and what reporters and the reported are told."""

from __future__ import annotations

import asyncpg

from tests.api.moderation.staff_support import PASSWORD, make_staff, sign_in, staff_call
from tests.api.walk_support import post_walk
from tests.support import Api, User, assert_error


async def report(api: Api, reporter: User, kind: str, target_id: str, reason: str = "spam") -> str:
    body = await api.call(
        "POST",
        "/reports",
        reporter,
        expect=201,
        json={"target": {"type": kind, "id": target_id}, "reason": reason, "note": "see this"},
    )
    return str(body["id"])


async def test_the_queue_shows_one_item_per_target_oldest_first(
    api: Api, database_url: str
) -> None:
    author, r1, r2 = await api.signup("qauthor"), await api.signup("r1"), await api.signup("r2")
    walk = await post_walk(api, author, memo="buy my stuff")
    await report(api, r1, "walk", walk["id"])
    await report(api, r2, "walk", walk["id"], "hate")
    await report(api, r1, "user", author.id, "impersonation")
    member = await make_staff(api, database_url)
    await sign_in(api, member)
    page = await staff_call(api, "GET", "/admin/api/reports?status=open", None, expect=200)
    assert [i["target"]["type"] for i in page["items"]] == ["walk", "user"]
    item = page["items"][0]
    assert set(item) == {"target", "reports", "first_reported_at", "status"}
    assert item["status"] == "open"
    assert item["target"]["snapshot"]["memo"] == "buy my stuff"
    assert item["target"]["author"] == {"id": author.id, "nickname": "qauthor"}
    assert item["target"]["hidden"] is False
    assert [r["reporter"]["nickname"] for r in item["reports"]] == ["r1", "r2"]
    assert item["first_reported_at"] == item["reports"][0]["created_at"]
    hate = await staff_call(api, "GET", "/admin/api/reports?reason=hate", None, expect=200)
    assert [i["target"]["id"] for i in hate["items"]] == [walk["id"]]
    first = await staff_call(api, "GET", "/admin/api/reports?limit=1", None, expect=200)
    rest = await staff_call(
        api, "GET", f"/admin/api/reports?limit=1&before={first['next_cursor']}", None, expect=200
    )
    assert [i["target"]["type"] for i in rest["items"]] == ["user"]


async def test_hide_takes_a_walk_from_everyone_but_its_author(
    api: Api, database_url: str, db: asyncpg.Connection
) -> None:
    author, reporter, other = await api.signup(), await api.signup(), await api.signup()
    walk = await post_walk(api, author, memo="hide me")
    await api.call("POST", f"/users/{author.id}/follow", other, expect=201)
    report_id = await report(api, reporter, "walk", walk["id"], "sexual")
    member = await make_staff(api, database_url)
    session = await sign_in(api, member)
    await staff_call(
        api,
        "POST",
        f"/admin/api/reports/{report_id}/resolve",
        session["csrf_token"],
        expect=200,
        json={"action": "hide", "note": "nsfw"},
    )
    await api.call("GET", f"/walks/{walk['id']}", other, expect=404)
    assert (await api.call("GET", "/feed", other, expect=200))["items"] == []
    assert (await api.call("GET", f"/users/{author.id}/walks", other))["items"] == []
    assert (await api.call("GET", f"/users/{author.id}", other))["walk_count"] == 0
    mine = await api.call("GET", f"/walks/{walk['id']}", author, expect=200)
    assert mine["moderation"] == {"hidden": True, "reason": "sexual"}
    notes = (await api.call("GET", "/notifications", author))["items"]
    hidden = [n for n in notes if n["type"] == "content_hidden"]
    assert hidden[0]["data"] == {"target": {"type": "walk", "id": walk["id"]}, "reason": "sexual"}
    resolved = [
        n
        for n in (await api.call("GET", "/notifications", reporter))["items"]
        if n["type"] == "report_resolved"
    ]
    assert resolved[0]["data"] == {"report_id": report_id, "outcome": "actioned"}
    mine_reports = (await api.call("GET", "/me/reports", reporter))["items"]
    assert mine_reports[0]["status"] == "actioned" and mine_reports[0]["resolved_at"]
    # Nothing the author can read names the reporter or shows the report.
    for path in ("/notifications", f"/walks/{walk['id']}", "/me/reports"):
        text = await (await api.client.get(path, headers=author.headers)).text()
        assert reporter.id not in text and "see this" not in text

    await staff_call(
        api,
        "POST",
        f"/admin/api/content/walk/{walk['id']}/restore",
        session["csrf_token"],
        expect=200,
        json={},
    )
    await api.call("GET", f"/walks/{walk['id']}", other, expect=200)
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit_log ORDER BY at")]
    assert actions[-2:] == ["resolve", "restore"]


async def test_a_hidden_comment_leaves_the_list_and_the_count(api: Api, database_url: str) -> None:
    owner, commenter, reporter = await api.signup(), await api.signup(), await api.signup()
    walk = await post_walk(api, owner)
    comment = await api.call(
        "POST", f"/walks/{walk['id']}/comments", commenter, expect=201, json={"body": "rude"}
    )
    report_id = await report(api, reporter, "comment", comment["id"], "harassment")
    member = await make_staff(api, database_url)
    session = await sign_in(api, member)
    await staff_call(
        api,
        "POST",
        f"/admin/api/reports/{report_id}/resolve",
        session["csrf_token"],
        expect=200,
        json={"action": "hide"},
    )
    seen = await api.call("GET", f"/walks/{walk['id']}/interactions", owner, expect=200)
    assert seen["comments"] == [] and seen["comment_count"] == 0
    assert (await api.call("GET", f"/walks/{walk['id']}", owner))["comment_count"] == 0
    theirs = await api.call("GET", f"/walks/{walk['id']}/interactions", commenter, expect=200)
    assert theirs["comments"][0]["moderation"] == {"hidden": True, "reason": "harassment"}


async def test_hide_on_a_user_is_422_and_suspend_needs_days(api: Api, database_url: str) -> None:
    target, reporter = await api.signup(), await api.signup()
    report_id = await report(api, reporter, "user", target.id)
    member = await make_staff(api, database_url)
    session = await sign_in(api, member)
    path = f"/admin/api/reports/{report_id}/resolve"
    for body in ({"action": "hide"}, {"action": "suspend"}, {"action": "suspend", "days": 366}):
        answer = await staff_call(api, "POST", path, session["csrf_token"], expect=422, json=body)
        assert_error(answer, "validation_error")


async def test_suspend_ends_sessions_refuses_login_and_hides_the_person_until_lifted(
    api: Api, database_url: str
) -> None:
    target, reporter, other = await api.signup("bad"), await api.signup(), await api.signup()
    walk = await post_walk(api, target)
    invitation = await api.call(
        "POST", "/invitations", target, expect=201, json={"invitee_id": other.id}
    )
    report_id = await report(api, reporter, "walk", walk["id"])
    member = await make_staff(api, database_url)
    session = await sign_in(api, member)
    await staff_call(
        api,
        "POST",
        f"/admin/api/reports/{report_id}/resolve",
        session["csrf_token"],
        expect=200,
        json={"action": "suspend", "days": 3},
    )
    await api.call("GET", "/me", target, expect=401)
    refreshed = await api.call(
        "POST", "/auth/refresh", expect=401, json={"refresh_token": target.refresh_token}
    )
    assert_error(refreshed, "unauthorized")
    login = await api.call(
        "POST", "/auth/login", expect=403, json={"email": target.email, "password": PASSWORD}
    )
    assert_error(login, "account_suspended")
    assert login["error"]["details"][0]["until"] is not None
    await api.call("GET", f"/users/{target.id}", other, expect=404)
    await api.call("GET", f"/walks/{walk['id']}", other, expect=404)
    mine = await api.call("GET", f"/invitations/{invitation['id']}", other)
    assert mine is None or mine.get("status") in (None, "cancelled")
    page = await staff_call(api, "GET", f"/admin/api/users/{target.id}", None, expect=200)
    assert page["status"] == "suspended" and page["until"] is not None
    assert page["actions"][0]["target"]["action"] == "suspend"
    assert page["reports_against"][0]["id"] == report_id

    await staff_call(
        api,
        "POST",
        f"/admin/api/users/{target.id}/unsuspend",
        session["csrf_token"],
        expect=200,
        json={},
    )
    await api.call("GET", f"/users/{target.id}", other, expect=200)
    await api.call("GET", f"/walks/{walk['id']}", other, expect=200)
    await api.call(
        "POST", "/auth/login", expect=200, json={"email": target.email, "password": PASSWORD}
    )


async def test_a_ban_outlives_the_account_for_sign_up_with_that_email(
    api: Api, database_url: str, db: asyncpg.Connection
) -> None:
    from tests.support import CONSENTS

    target, reporter = await api.signup(), await api.signup()
    report_id = await report(api, reporter, "user", target.id, "hate")
    member = await make_staff(api, database_url)
    session = await sign_in(api, member)
    await staff_call(
        api,
        "POST",
        f"/admin/api/reports/{report_id}/resolve",
        session["csrf_token"],
        expect=200,
        json={"action": "ban"},
    )
    login = await api.call(
        "POST", "/auth/login", expect=403, json={"email": target.email, "password": PASSWORD}
    )
    assert login["error"]["details"] == [{"until": None}]
    await db.execute("DELETE FROM users WHERE id = $1", target.id)
    again = await api.call(
        "POST",
        "/auth/signup",
        expect=403,
        json={
            "email": target.email.upper(),
            "password": PASSWORD,
            "nickname": "back",
            "consents": CONSENTS,
        },
    )
    assert_error(again, "account_suspended")
    assert again["error"]["details"] == [{"until": None}]
    assert await db.fetchval("SELECT count(*) FROM banned_emails WHERE email_hash LIKE '%@%'") == 0


async def test_dismiss_changes_nothing_but_the_reports(api: Api, database_url: str) -> None:
    author, reporter, other = await api.signup(), await api.signup(), await api.signup()
    walk = await post_walk(api, author)
    report_id = await report(api, reporter, "walk", walk["id"])
    member = await make_staff(api, database_url)
    session = await sign_in(api, member)
    await staff_call(
        api,
        "POST",
        f"/admin/api/reports/{report_id}/resolve",
        session["csrf_token"],
        expect=200,
        json={"action": "dismiss"},
    )
    await api.call("GET", f"/walks/{walk['id']}", other, expect=200)
    notes = (await api.call("GET", "/notifications", reporter))["items"]
    assert notes[0]["data"] == {"report_id": report_id, "outcome": "dismissed"}
    again = await staff_call(
        api,
        "POST",
        f"/admin/api/reports/{report_id}/resolve",
        session["csrf_token"],
        json={"action": "dismiss"},
    )
    assert_error(again, "conflict")
    done = await staff_call(api, "GET", "/admin/api/reports?status=dismissed", None, expect=200)
    assert done["items"][0]["status"] == "dismissed"


async def test_auto_hide_needs_enough_reporters_with_old_accounts(
    api: Api, db: asyncpg.Connection, database_url: str
) -> None:
    author, other = await api.signup(), await api.signup()
    walk = await post_walk(api, author)
    fresh = [await api.signup() for _ in range(3)]
    for reporter in fresh:
        await report(api, reporter, "walk", walk["id"])
    await api.call("GET", f"/walks/{walk['id']}", other, expect=200)  # a fresh brigade: no
    old = [await api.signup() for _ in range(3)]
    await db.execute(
        "UPDATE users SET created_at = now() - interval '25 hours' WHERE id = ANY($1::uuid[])",
        [u.id for u in old],
    )
    for reporter in old[:2]:
        await report(api, reporter, "walk", walk["id"])
    await api.call("GET", f"/walks/{walk['id']}", other, expect=200)
    await report(api, old[2], "walk", walk["id"])
    await api.call("GET", f"/walks/{walk['id']}", other, expect=404)
    mine = await api.call("GET", f"/walks/{walk['id']}", author, expect=200)
    assert mine["moderation"]["hidden"] is True

    # Hidden "until a moderator decides": dismissing the reports shows it again.
    member = await make_staff(api, database_url)
    session = await sign_in(api, member)
    queue = await staff_call(api, "GET", "/admin/api/reports", None, expect=200)
    assert queue["items"][0]["target"]["hidden"] is True
    first_report = queue["items"][0]["reports"][0]["id"]
    await staff_call(
        api,
        "POST",
        f"/admin/api/reports/{first_report}/resolve",
        session["csrf_token"],
        expect=200,
        json={"action": "dismiss"},
    )
    await api.call("GET", f"/walks/{walk['id']}", other, expect=200)


async def this_week_walk(api: Api, user: User, distance_m: float) -> str:
    import datetime as dt

    ended = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    walk = await post_walk(
        api,
        user,
        started_at=(ended - dt.timedelta(minutes=30)).isoformat(),
        ended_at=ended.isoformat(),
        distance_m=distance_m,
    )
    return str(walk["id"])


def ranked_ids(body: dict[str, object]) -> list[str]:
    return [item["user"]["id"] for item in body["items"]]  # type: ignore[attr-defined, index]


async def test_hidden_walks_and_suspended_people_leave_the_rankings_and_return(
    api: Api, database_url: str
) -> None:
    walker, other, reporter = await api.signup(), await api.signup(), await api.signup()
    walk_id = await this_week_walk(api, walker, 5000)
    await this_week_walk(api, other, 1000)
    assert ranked_ids(await api.call("GET", "/rankings/weekly", other))[0] == walker.id
    report_id = await report(api, reporter, "walk", walk_id)
    member = await make_staff(api, database_url)
    session = await sign_in(api, member)
    await staff_call(
        api,
        "POST",
        f"/admin/api/reports/{report_id}/resolve",
        session["csrf_token"],
        expect=200,
        json={"action": "hide"},
    )
    assert walker.id not in ranked_ids(await api.call("GET", "/rankings/weekly", other))
    await staff_call(
        api,
        "POST",
        f"/admin/api/content/walk/{walk_id}/restore",
        session["csrf_token"],
        expect=200,
    )
    assert ranked_ids(await api.call("GET", "/rankings/weekly", other))[0] == walker.id

    user_report = await report(api, reporter, "user", walker.id)
    await staff_call(
        api,
        "POST",
        f"/admin/api/reports/{user_report}/resolve",
        session["csrf_token"],
        expect=200,
        json={"action": "suspend", "days": 1},
    )
    ranking = await api.call("GET", "/rankings/weekly", other)
    assert ranked_ids(ranking) == [other.id] and ranking["me"]["rank"] == 1
    await staff_call(
        api,
        "POST",
        f"/admin/api/users/{walker.id}/unsuspend",
        session["csrf_token"],
        expect=200,
    )
    assert ranked_ids(await api.call("GET", "/rankings/weekly", other))[0] == walker.id


async def test_a_restored_walk_reenters_a_followers_feed_poll(api: Api, database_url: str) -> None:
    author, follower, reporter = await api.signup(), await api.signup(), await api.signup()
    await api.call("POST", f"/users/{author.id}/follow", follower, expect=201)
    start = await api.call("GET", "/feed", follower)
    walk = await post_walk(api, author)
    report_id = await report(api, reporter, "walk", walk["id"])
    member = await make_staff(api, database_url)
    session = await sign_in(api, member)
    await staff_call(
        api,
        "POST",
        f"/admin/api/reports/{report_id}/resolve",
        session["csrf_token"],
        expect=200,
        json={"action": "hide"},
    )
    hidden = await api.call("GET", f"/feed?since={start['latest_cursor']}", follower)
    assert hidden["new_count"] == 0
    await staff_call(
        api,
        "POST",
        f"/admin/api/content/walk/{walk['id']}/restore",
        session["csrf_token"],
        expect=200,
    )
    back = await api.call("GET", f"/feed?since={start['latest_cursor']}", follower)
    assert back["new_count"] == 1 and back["items"][0]["id"] == walk["id"]


async def test_the_moderation_metrics_are_on_the_internal_listener(
    api: Api, database_url: str
) -> None:
    from shared.metrics import metrics_port_key
    from tests.support import sample_value, scrape

    author, reporter = await api.signup(), await api.signup()
    report_id = await report(api, reporter, "user", author.id, "hate")
    assert api.client.server.app is not None
    port = api.client.server.app[metrics_port_key]
    families = await scrape(port)
    assert (
        sample_value(families["withbowwow_reports_open"], "withbowwow_reports_open", reason="hate")
        == 1
    )
    assert (
        sample_value(
            families["withbowwow_report_oldest_open_seconds"],
            "withbowwow_report_oldest_open_seconds",
        )
        >= 0
    )
    member = await make_staff(api, database_url)
    session = await sign_in(api, member)
    await staff_call(
        api,
        "POST",
        f"/admin/api/reports/{report_id}/resolve",
        session["csrf_token"],
        expect=200,
        json={"action": "dismiss"},
    )
    families = await scrape(port)
    actions = families["withbowwow_moderation_actions"]
    assert sample_value(actions, "withbowwow_moderation_actions_total", action="dismiss") == 1
    assert (
        sample_value(families["withbowwow_reports_open"], "withbowwow_reports_open", reason="hate")
        == 0
    )


async def test_evidence_is_pruned_after_the_retention_and_not_before(
    api: Api, db: asyncpg.Connection
) -> None:
    from services.api.moderation.evidence import prune_evidence

    author, reporter = await api.signup(), await api.signup()
    await report(api, reporter, "user", author.id)
    await db.execute(
        "UPDATE reports SET status = 'dismissed', resolved_at = now() - interval '364 days'"
    )
    assert await prune_evidence(db, 365, 100) == 0
    await db.execute("UPDATE reports SET resolved_at = now() - interval '366 days'")
    assert await prune_evidence(db, 365, 100) == 1
    assert await db.fetchval("SELECT snapshot FROM reports") is None
    assert (await api.call("GET", "/me/reports", reporter))["items"][0]["status"] == "dismissed"


async def test_the_staff_cookie_is_secure_behind_https(
    aiohttp_client: object, database_url: str, redis_url: str
) -> None:
    from services.api.app import create_app
    from tests.api.moderation.staff_support import grant
    from tests.support import make_settings

    settings = make_settings(database_url, redis_url, public_base_url="https://api.example.com")
    api = Api(await aiohttp_client(create_app(settings)))  # type: ignore[operator]
    member = await grant(database_url, await api.signup())
    resp = await api.client.post(
        "/admin/api/session",
        json={"email": member.user.email, "password": PASSWORD, "totp": member.code()},
    )
    assert resp.status == 200
    assert "Secure" in resp.headers["Set-Cookie"]


async def test_a_suspended_persons_likes_and_comments_leave_the_counts(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, suspended, other = await api.signup(), await api.signup(), await api.signup()
    walk = await post_walk(api, owner)
    await api.call("POST", f"/walks/{walk['id']}/likes", suspended, expect=201)
    await api.call(
        "POST", f"/walks/{walk['id']}/comments", suspended, expect=201, json={"body": "hi"}
    )
    await db.execute(
        "UPDATE users SET suspended_until = now() + interval '1 day' WHERE id = $1", suspended.id
    )
    seen = await api.call("GET", f"/walks/{walk['id']}", other, expect=200)
    assert (seen["like_count"], seen["comment_count"]) == (0, 0)
    liked = await api.call("POST", f"/walks/{walk['id']}/likes", other, expect=201)
    assert liked["like_count"] == 1
    polled = await api.call("GET", f"/walks/{walk['id']}/interactions", other, expect=200)
    assert (polled["like_count"], polled["comment_count"], polled["comments"]) == (1, 0, [])
    await db.execute("UPDATE users SET suspended_until = NULL WHERE id = $1", suspended.id)
    back = await api.call("GET", f"/walks/{walk['id']}", other, expect=200)
    assert (back["like_count"], back["comment_count"]) == (2, 1)
