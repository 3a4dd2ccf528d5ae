"""Every route naming a user or a user's object answers 404 to someone that user blocked.

The routes come from the app's route table, so a route added later is checked without anyone
remembering to: one whose path this test cannot fill, or that answers the blocked person
anything but 404, fails here until it applies the shared rule (services/api/visibility.py) or is
listed in NOT_HIDDEN with the reason.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass

import pytest

from services.api.app import create_app
from tests.api.walk_support import post_walk
from tests.support import WEB_PAGES, Api, User, make_settings

# Routes that name the blocker yet answer the blocked person: a block protects, so the blocked
# person may block back, and "unblocking" someone they never blocked changes nothing.
NOT_HIDDEN = {("POST", "/users/{id}/block"), ("DELETE", "/users/{id}/block")}
# Routes that name a user in their body rather than their path.
BODY_NAMED = {("POST", "/invitations"): "invitee_id"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
ADMIN_PREFIX = "/admin/"
# GET routes naming no one that are not lists of people: the caller's own data as a ZIP archive
# (what it holds of others is tests/api/export's business).
NOT_LISTS = {"/me/export"}


def route_table() -> list[tuple[str, str]]:
    # Never started, so the URLs only have to parse.
    settings = make_settings("postgresql://unused@127.0.0.1:1/unused", "redis://127.0.0.1:1/0")
    app = create_app(settings)
    return sorted(
        {
            (route.method, route.resource.canonical)
            for route in app.router.routes()
            if route.method not in IGNORED_METHODS
            and route.resource is not None
            # The console's routes take the staff session, never an app token, and name no
            # one to the app's users (tests/api/moderation/test_staff.py).
            and not route.resource.canonical.startswith(ADMIN_PREFIX)
            and not route.resource.canonical.startswith(WEB_PAGES)
        },
        key=lambda r: (r[1], r[0]),
    )


@dataclass
class BlockersThings:
    blocker: User
    walk_id: str
    comment_id: str
    dog_id: str
    invitation_id: str
    device_token: str


def fill(template: str, things: BlockersThings) -> str | None:
    """The path naming the blocker's object, or None if this test does not know the route."""
    values: dict[str, str] = {}
    for name in re.findall(r"\{(\w+)\}", template):
        if name == "comment_id":
            values[name] = things.comment_id
        elif name == "user_id" or template.startswith("/users/"):
            values[name] = things.blocker.id
        elif template.startswith("/walks/"):
            values[name] = things.walk_id
        elif template.startswith("/invitations/"):
            values[name] = things.invitation_id
        elif template.startswith("/me/dogs/"):
            values[name] = things.dog_id
        elif template.startswith("/devices/"):
            values[name] = things.device_token
        elif template.startswith("/me/"):
            # The caller's own collection: the path itself scopes the id to the caller.
            values[name] = str(uuid.uuid4())
        else:
            return None
    return template.format(**values)


async def blockers_things(api: Api, blocker: User, blocked: User) -> BlockersThings:
    """Everything of the blocker's a route can name, with the blocked person in touch with it."""
    dog = await api.call("POST", "/me/dogs", blocker, expect=201, json={"name": "보리"})
    walk = await post_walk(api, blocker, dog_ids=[dog["id"]])
    comment = await api.call(
        "POST", f"/walks/{walk['id']}/comments", blocker, expect=201, json={"body": "좋은 길"}
    )
    await api.call("POST", f"/walks/{walk['id']}/likes", blocked, expect=201)
    await api.call("POST", f"/users/{blocker.id}/follow", blocked, expect=201)
    await api.call("POST", f"/users/{blocked.id}/follow", blocker, expect=201)
    invitation = await api.call(
        "POST", "/invitations", blocker, expect=201, json={"invitee_id": blocked.id}
    )
    await api.call("POST", f"/invitations/{invitation['id']}/accept", blocked, expect=200)
    token = f"device-{uuid.uuid4().hex}"
    await api.call(
        "POST", "/devices", blocker, expect=201, json={"token": token, "platform": "ios"}
    )
    return BlockersThings(blocker, walk["id"], comment["id"], dog["id"], invitation["id"], token)


async def test_the_blocked_person_gets_404_from_every_route_naming_the_blocker(api: Api) -> None:
    blocker, blocked = await api.signup("blocker"), await api.signup("blocked")
    things = await blockers_things(api, blocker, blocked)
    named = [(m, p) for m, p in route_table() if "{" in p or (m, p) in BODY_NAMED]
    checked = [(m, p) for m, p in named if (m, p) not in NOT_HIDDEN]
    unknown = [f"{m} {p}" for m, p in checked if fill(p, things) is None]
    assert unknown == [], "teach fill() what these routes name, and apply the visibility rule"

    # Before the block the same reads succeed: the paths really name the blocker's things.
    for method, template in checked:
        path = fill(template, things)
        if method == "GET" and path is not None and not template.startswith("/me/"):
            await api.call(method, path, blocked, expect=200)

    await api.call("POST", f"/users/{blocked.id}/block", blocker, expect=201)

    answers: dict[str, int] = {}
    for method, template in checked:
        path = fill(template, things)
        assert path is not None, template
        json_body = None
        if (method, template) in BODY_NAMED:
            json_body = {BODY_NAMED[(method, template)]: blocker.id}
        elif method in ("POST", "PATCH", "PUT"):
            json_body = {}
        resp = await api.client.request(method, path, headers=blocked.headers, json=json_body)
        answers[f"{method} {template}"] = resp.status
    assert {route: status for route, status in answers.items() if status != 404} == {}
    assert len(answers) >= 20, "the route table was read"


@pytest.mark.parametrize("route", sorted(NOT_HIDDEN))
def test_routes_left_visible_are_still_served(route: tuple[str, str]) -> None:
    """NOT_HIDDEN names real routes (a renamed one must leave the list too)."""
    assert route in route_table()


# Lists that still name the other person after a block, and why. Every other list either leaves
# them out or fails the test below.
STILL_LISTED = {
    ("blocker", "/me/blocks"): "whom the blocker blocked, to unblock them",
    ("blocker", "/invitations"): "the blocker still sees the blocked person and theirs",
}


def list_paths(other: User) -> list[str]:
    """Every GET route that names no one in its path: the lists (people are looked for by the
    other's nickname)."""
    paths = [p for m, p in route_table() if m == "GET" and "{" not in p and p not in NOT_LISTS]
    return [f"{p}?query={other.nickname}" if p == "/users" else p for p in paths]


async def test_no_list_names_the_other_person_after_a_block_either_way(api: Api) -> None:
    """Neither appears to the other in any list (feed, search, notifications, the ranking...),
    though both did before: the lists come from the route table, so a new one is checked too."""
    blocker, blocked = await api.signup("blocker"), await api.signup("blocked")
    await blockers_things(api, blocker, blocked)
    now = dt.datetime.now(dt.UTC)
    for user in (blocker, blocked):  # this week, to be ranked
        await post_walk(
            api,
            user,
            started_at=(now - dt.timedelta(hours=1)).isoformat(),
            ended_at=(now - dt.timedelta(minutes=30)).isoformat(),
        )

    async def naming(reader: User, other: User) -> set[str]:
        named = set()
        for path in list_paths(other):
            resp = await api.client.get(path, headers=reader.headers)
            assert resp.status == 200, path
            if other.id.encode() in await resp.read():  # bytes: /me/export is a zip
                named.add(path.split("?")[0])
        return named

    assert {"/notifications", "/rankings/weekly"} <= await naming(blocked, blocker)
    assert {"/notifications", "/rankings/weekly"} <= await naming(blocker, blocked)

    await api.call("POST", f"/users/{blocked.id}/block", blocker, expect=201)
    assert {("blocked", p) for p in await naming(blocked, blocker)} <= STILL_LISTED.keys()
    assert {("blocker", p) for p in await naming(blocker, blocked)} <= STILL_LISTED.keys()


@pytest.mark.parametrize("listed", sorted(STILL_LISTED))
def test_lists_left_naming_the_other_are_real_routes(listed: tuple[str, str]) -> None:
    assert ("GET", listed[1]) in route_table()
