"""`GET /me/export` (CONTRACT section 3, Your data): the caller's data as a streamed ZIP, from one
snapshot, with a GPX 1.1 file per walk that has a path, and nothing of anyone else's."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import uuid
import zipfile
from typing import Any

import asyncpg
import gpxpy
import orjson

from services.api.export.slots import export_slots_key
from tests.api.export.gpx_schema import gpx_1_1_problems
from tests.api.walk_support import post_walk
from tests.support import Api, User, assert_error

FILES = {
    "account.json",
    "dogs.json",
    "walks.json",
    "comments.json",
    "likes.json",
    "follows.json",
    "invitations.json",
    "notifications.json",
    "location-log.json",
    "reports.json",
    "badges.json",
}
T0 = dt.datetime(2026, 11, 20, 7, 0, tzinfo=dt.UTC)


async def export(api: Api, user: User) -> dict[str, bytes]:
    resp = await api.client.get("/me/export", headers=user.headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "application/zip"
    assert resp.headers["Transfer-Encoding"] == "chunked"
    with zipfile.ZipFile(io.BytesIO(await resp.read())) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def json_of(files: dict[str, bytes], name: str) -> Any:
    return orjson.loads(files[name])


def path_of(n: int, start: dt.datetime = T0) -> list[dict[str, Any]]:
    """`n` points, every other time given as epoch seconds (as a phone's GPS reports it)."""
    return [
        {
            "lat": 37.5 + i * 0.0001,
            "lng": 127.0 + i * 0.0001,
            "t": (start + dt.timedelta(seconds=i)).isoformat()
            if i % 2 == 0
            else (start + dt.timedelta(seconds=i)).timestamp(),
        }
        for i in range(n)
    ]


async def test_the_export_holds_each_file_the_contract_names_with_the_callers_data(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, friend = await api.signup("owner"), await api.signup("friend")
    await api.follow(owner, friend)
    await api.follow(friend, owner)
    dog = await api.call("POST", "/me/dogs", owner, expect=201, json={"name": "보리"})
    zone = {"lat": 37.0, "lng": 126.0, "radius_m": 300}
    await api.call("POST", "/me/privacy-zones", owner, expect=201, json=zone)
    await api.call(
        "PATCH",
        "/me/notification-settings",
        owner,
        expect=200,
        json={"push": {"walk_liked": False}},
    )
    walk = await post_walk(api, owner, dog_ids=[dog["id"]], memo="아침", path=path_of(3))
    bare = await post_walk(api, owner, memo="no path")
    theirs = await post_walk(api, friend, memo="friend's walk")
    await api.call("POST", f"/walks/{theirs['id']}/likes", owner, expect=201)
    comment = await api.call(
        "POST", f"/walks/{theirs['id']}/comments", owner, expect=201, json={"body": "좋아요"}
    )
    invitation = await api.call(
        "POST", "/invitations", owner, expect=201, json={"invitee_id": friend.id}
    )
    await api.call("POST", f"/walks/{walk['id']}/likes", friend, expect=201)
    stranger = await api.signup("stranger")
    await api.call("POST", f"/users/{stranger.id}/block", owner, expect=201)
    await db.execute(
        """INSERT INTO location_access_log
             (user_id, invitation_id, direction, partner_id, first_at, last_at, count)
           VALUES ($1, $2, 'provided', $3, now(), now(), 4)""",
        uuid.UUID(owner.id),
        uuid.UUID(invitation["id"]),
        uuid.UUID(friend.id),
    )

    files = await export(api, owner)

    assert set(files) == FILES | {f"walks/{walk['id']}.gpx"}
    account = json_of(files, "account.json")
    me = await api.call("GET", "/me", owner, expect=200)
    me.pop("consents_required")  # a state of the moment, not the profile (consents are below)
    assert account["profile"] == me
    assert account["settings"] == {"approve_followers": False}
    assert account["notification_settings"]["push"]["walk_liked"] is False
    assert account["privacy_zones"] == [{"id": account["privacy_zones"][0]["id"], **zone}]
    assert [b["user"]["id"] for b in account["blocks"]] == [stranger.id]
    assert set(account["consents"]["current"]) >= {"terms", "privacy", "location_terms"}
    assert {r["action"] for r in account["consents"]["history"]} == {"given"}
    assert [d["id"] for d in json_of(files, "dogs.json")] == [dog["id"]]
    walks = {w["id"]: w for w in json_of(files, "walks.json")}
    assert set(walks) == {walk["id"], bare["id"]}
    assert walks[walk["id"]]["gpx"] == f"walks/{walk['id']}.gpx"
    assert walks[walk["id"]]["like_count"] == 1
    assert walks[bare["id"]]["gpx"] is None
    assert {k: walks[bare["id"]][k] for k in bare} == bare
    assert json_of(files, "comments.json") == [
        {
            "id": comment["id"],
            "walk_id": theirs["id"],
            "body": "좋아요",
            "created_at": comment["created_at"],
        }
    ]
    assert [like["walk_id"] for like in json_of(files, "likes.json")] == [theirs["id"]]
    follows = json_of(files, "follows.json")
    assert [f["user"]["id"] for f in follows["following"]] == [friend.id]
    assert [f["user"]["id"] for f in follows["followers"]] == [friend.id]
    assert follows["requests_sent"] == follows["requests_received"] == []
    assert json_of(files, "invitations.json") == [invitation]
    listed = await api.call("GET", "/notifications", owner, expect=200)
    assert json_of(files, "notifications.json") == listed["items"][::-1]
    assert {n["type"] for n in listed["items"]} == {"followed", "walk_liked", "badge_earned"}
    ledger = json_of(files, "location-log.json")
    assert [(e["invitation_id"], e["partner"]["id"], e["count"]) for e in ledger] == [
        (invitation["id"], friend.id, 4)
    ]
    assert json_of(files, "reports.json") == []
    assert [b["code"] for b in json_of(files, "badges.json")] == ["first_walk"]


async def test_each_walk_with_a_path_has_a_gpx_1_1_file_with_the_whole_path(
    api: Api,
) -> None:
    owner = await api.signup("walker")
    points = path_of(50)
    points[7]["lng"] = 180.0  # the antimeridian: GPX writes it as -180
    # A zone over the path: others see it trimmed, the owner's own copy is whole.
    zone = {"lat": points[0]["lat"], "lng": points[0]["lng"], "radius_m": 1000}
    await api.call("POST", "/me/privacy-zones", owner, expect=201, json=zone)
    walk = await post_walk(api, owner, memo="공원 <산책> & more", path=points)

    document = (await export(api, owner))[f"walks/{walk['id']}.gpx"]

    assert gpx_1_1_problems(document) == []
    gpx = gpxpy.parse(document.decode())
    assert gpx.version == "1.1"
    (track,) = gpx.tracks
    assert track.description == "공원 <산책> & more"
    (segment,) = track.segments
    assert len(segment.points) == len(points)
    for written, given in zip(segment.points, points, strict=True):
        assert written.latitude == given["lat"]
        assert written.longitude == (-180.0 if given["lng"] == 180 else given["lng"])
        t = given["t"]
        moment = (
            dt.datetime.fromisoformat(t)
            if isinstance(t, str)
            else dt.datetime.fromtimestamp(t, dt.UTC)
        )
        assert written.time == moment


async def test_nothing_of_another_users_is_in_the_export(api: Api, db: asyncpg.Connection) -> None:
    owner, other = await api.signup("owner"), await api.signup("other")
    await api.follow(other, owner)
    own = await post_walk(api, owner, path=path_of(4))
    theirs = await post_walk(
        api, other, memo="other's secret memo", visibility="private", path=path_of(5)
    )
    public = await post_walk(api, other, memo="other's public memo")
    await api.call("POST", f"/walks/{own['id']}/likes", other, expect=201)
    await api.call(
        "POST", f"/walks/{own['id']}/comments", other, expect=201, json={"body": "other's comment"}
    )
    await api.call("POST", f"/walks/{public['id']}/likes", other, expect=201)
    await api.call("POST", "/me/dogs", other, expect=201, json={"name": "other's dog"})
    await api.call(
        "POST",
        "/me/privacy-zones",
        other,
        expect=201,
        # Digits no timestamp or id of the export could hold by chance (a bare 129 did).
        json={"lat": 35, "lng": 129.4242421, "radius_m": 200},
    )
    await api.call(
        "POST", "/devices", other, expect=201, json={"token": "other-device", "platform": "ios"}
    )
    third = await api.signup("third")
    await api.call("POST", f"/users/{third.id}/follow", other, expect=201)
    await api.call("POST", "/invitations", other, expect=201, json={"invitee_id": third.id})

    files = await export(api, owner)
    everything = b"".join(files.values())

    for secret in (
        other.email,
        third.id,
        theirs["id"],
        public["id"],
        "other's secret memo",
        "other's public memo",
        "other's dog",
        "other-device",
        "129.4242421",
    ):
        assert secret.encode() not in everything, secret
    # What is the owner's own that names the other: who follows, liked and commented on them.
    assert [f["user"]["id"] for f in json_of(files, "follows.json")["followers"]] == [other.id]
    assert json_of(files, "comments.json") == json_of(files, "likes.json") == []
    assert set(files) == FILES | {f"walks/{own['id']}.gpx"}


async def test_devices_are_listed_without_their_tokens(api: Api) -> None:
    owner = await api.signup("phone")
    token = f"fcm:{uuid.uuid4().hex}"
    await api.call(
        "POST", "/devices", owner, expect=201, json={"token": token, "platform": "android"}
    )

    files = await export(api, owner)

    (device,) = json_of(files, "account.json")["devices"]
    assert device["platform"] == "android" and "token" not in device
    assert token.encode() not in b"".join(files.values())
    assert token.split(":")[1].encode() not in b"".join(files.values())


async def test_a_user_blocked_by_the_caller_is_listed_but_one_who_blocked_them_is_null(
    api: Api,
) -> None:
    owner, partner = await api.signup("owner"), await api.signup("partner")
    invitation = await api.call(
        "POST", "/invitations", owner, expect=201, json={"invitee_id": partner.id}
    )
    await api.call("POST", f"/users/{owner.id}/block", partner, expect=201)

    files = await export(api, owner)

    (kept,) = json_of(files, "invitations.json")
    assert kept["id"] == invitation["id"] and kept["status"] == "cancelled"
    assert kept["invitee"] is None
    assert json_of(files, "account.json")["blocks"] == []


async def test_reports_lists_only_those_the_caller_filed(api: Api, db: asyncpg.Connection) -> None:
    owner, other = await api.signup("owner"), await api.signup("other")
    if await db.fetchval("SELECT to_regclass('reports') IS NULL"):
        # Before the moderation tables land: the columns of GET /me/reports' shape.
        await db.execute(
            """CREATE TABLE reports (
                   id uuid PRIMARY KEY DEFAULT gen_random_uuid(), reporter_id uuid NOT NULL,
                   target_type text NOT NULL, target_id uuid NOT NULL, reason text NOT NULL,
                   note text, status text NOT NULL DEFAULT 'open',
                   created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                   resolved_at timestamptz)"""
        )
    for reporter, target in ((owner, other), (other, owner)):
        await db.execute(
            """INSERT INTO reports (reporter_id, target_type, target_id, reason, note)
               VALUES ($1, 'user', $2, 'spam', $3)""",
            uuid.UUID(reporter.id),
            uuid.UUID(target.id),
            f"filed by {reporter.nickname}",
        )

    (report,) = json_of(await export(api, owner), "reports.json")

    assert report["target"] == {"type": "user", "id": other.id}
    assert (report["reason"], report["note"], report["status"]) == (
        "spam",
        "filed by owner",
        "open",
    )
    assert report["resolved_at"] is None


async def test_a_sixth_export_within_the_hour_is_429_for_that_user_only(api: Api) -> None:
    owner, other = await api.signup(), await api.signup()
    for _ in range(5):
        await export(api, owner)

    resp = await api.client.get("/me/export", headers=owner.headers)

    assert resp.status == 429
    assert "Retry-After" in resp.headers
    assert_error(await resp.json(), "rate_limited")
    await export(api, other)


async def test_the_export_needs_a_bearer_token(api: Api) -> None:
    resp = await api.client.get("/me/export")
    assert resp.status == 401
    assert_error(await resp.json(), "unauthorized")


async def test_the_archive_starts_before_it_is_complete_and_is_one_snapshot(
    api: Api, db: asyncpg.Connection, database_url: str
) -> None:
    """The export reads badges last. With the badges table locked, the response has started
    (its first chunk has arrived) and the export waits: it is not complete. Changes committed
    meanwhile (a comment, a badge) are in the database, not in the archive: one snapshot."""
    owner = await api.signup("owner")
    walk = await post_walk(api, owner, path=path_of(20))
    locker = await asyncpg.connect(database_url)
    try:
        lock = locker.transaction()
        await lock.start()
        await locker.execute("LOCK TABLE badges IN ACCESS EXCLUSIVE MODE")
        resp = await api.client.get("/me/export", headers=owner.headers)
        assert resp.status == 200
        assert resp.headers["Transfer-Encoding"] == "chunked"
        first = await resp.content.readany()
        assert first.startswith(b"PK\x03\x04")  # a ZIP's first local header
        await _wait_for_lock_waiter(db)  # the export is held at badges.json: not complete
        assert not resp.content.at_eof()
        # It holds its process's one export slot (a pool of 5): another export would wait.
        assert api.client.app[export_slots_key].locked()
        await locker.execute(
            "INSERT INTO comments (walk_id, user_id, body) VALUES ($1, $2, 'later')",
            uuid.UUID(walk["id"]),
            uuid.UUID(owner.id),
        )
        await locker.execute(
            "INSERT INTO badges (user_id, code) VALUES ($1, 'walks_10')", uuid.UUID(owner.id)
        )
        await lock.commit()
        rest = await resp.read()
    finally:
        await locker.close()
    assert not api.client.app[export_slots_key].locked()  # given back: the next one runs

    with zipfile.ZipFile(io.BytesIO(first + rest)) as archive:
        badges = orjson.loads(archive.read("badges.json"))
        comments = orjson.loads(archive.read("comments.json"))
    assert [b["code"] for b in badges] == ["first_walk"]
    assert comments == []
    assert (
        await db.fetchval("SELECT count(*) FROM badges WHERE user_id = $1", uuid.UUID(owner.id))
        == 2
    )


async def _wait_for_lock_waiter(db: asyncpg.Connection, timeout_s: float = 20.0) -> None:
    """Until a backend waits for a lock on `badges` (PostgreSQL tells no one when a lock wait
    starts: ask it); a failed assertion if none does within `timeout_s`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        if await db.fetchval(
            """SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                              WHERE c.relname = 'badges' AND NOT l.granted)"""
        ):
            return
        assert asyncio.get_running_loop().time() < deadline, "the export never reached badges"
        await asyncio.sleep(0.02)
