"""Privacy zones (CONTRACT section 3): `/me/privacy-zones`, and paths trimmed for everyone but
the owner when read, for walks recorded before a zone too."""

from __future__ import annotations

import asyncio
import math
import uuid
from typing import Any

import asyncpg
import pytest

from services.api.visibility import EARTH_RADIUS_M, visible_path
from tests.api.walk_support import follow, post_walk
from tests.support import Api, User, assert_error

HOME = (37.5665, 126.9780)
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180


def north_of(origin: tuple[float, float], metres: float) -> dict[str, float]:
    return {"lat": origin[0] + metres / METRES_PER_DEGREE, "lng": origin[1]}


def path_from_home() -> list[dict[str, Any]]:
    """Points 0, 100, ..., 1900 m north of HOME."""
    return [{**north_of(HOME, 100 * i), "t": 1_764_000_000 + 60 * i} for i in range(20)]


async def add_zone(api: Api, user: User, radius_m: float = 550, **where: float) -> dict[str, Any]:
    body = {"lat": HOME[0], "lng": HOME[1], "radius_m": radius_m, **where}
    zone: dict[str, Any] = await api.call("POST", "/me/privacy-zones", user, expect=201, json=body)
    return zone


async def path_seen(api: Api, viewer: User, walk_id: str) -> list[dict[str, Any]]:
    walk = await api.call("GET", f"/walks/{walk_id}", viewer, expect=200)
    path: list[dict[str, Any]] = walk["path"]
    return path


async def test_zones_are_created_listed_and_deleted(api: Api) -> None:
    user = await api.signup()
    zone = await add_zone(api, user, radius_m=300, lat=37.5, lng=127.25)
    assert set(zone) == {"id", "lat", "lng", "radius_m"}
    uuid.UUID(zone["id"])
    assert (zone["lat"], zone["lng"], zone["radius_m"]) == (37.5, 127.25, 300)
    other = await add_zone(api, user, radius_m=1000)
    assert await api.call("GET", "/me/privacy-zones", user, expect=200) == [zone, other]
    await api.call("DELETE", f"/me/privacy-zones/{zone['id']}", user, expect=204)
    assert await api.call("GET", "/me/privacy-zones", user, expect=200) == [other]


async def test_someone_elses_zone_is_404_to_delete_and_stays(api: Api) -> None:
    owner, stranger = await api.signup(), await api.signup()
    zone = await add_zone(api, owner)
    body = await api.call("DELETE", f"/me/privacy-zones/{zone['id']}", stranger, expect=404)
    assert_error(body, "not_found")
    await api.call("DELETE", "/me/privacy-zones/not-a-uuid", owner, expect=404)
    assert await api.call("GET", "/me/privacy-zones", owner, expect=200) == [zone]
    assert await api.call("GET", "/me/privacy-zones", stranger, expect=200) == []


@pytest.mark.parametrize(
    "body",
    [
        {"lat": 37.5, "lng": 127.0, "radius_m": 99},
        {"lat": 37.5, "lng": 127.0, "radius_m": 1001},
        {"lat": 91, "lng": 127.0, "radius_m": 500},
        {"lat": 37.5, "lng": -181, "radius_m": 500},
        {"lat": "37.5", "lng": 127.0, "radius_m": 500},
        {"lat": 37.5, "lng": 127.0},
        {"lat": 37.5, "lng": 127.0, "radius_m": 500, "name": "home"},
    ],
)
async def test_a_bad_zone_is_422_and_adds_nothing(api: Api, body: dict[str, Any]) -> None:
    user = await api.signup()
    assert_error(
        await api.call("POST", "/me/privacy-zones", user, expect=422, json=body),
        "validation_error",
    )
    assert await api.call("GET", "/me/privacy-zones", user, expect=200) == []


async def test_an_eleventh_zone_is_409_even_when_sent_at_once(api: Api) -> None:
    user = await api.signup()
    for _ in range(4):
        await add_zone(api, user)
    body = {"lat": HOME[0], "lng": HOME[1], "radius_m": 200}
    statuses = await asyncio.gather(
        *(api.client.post("/me/privacy-zones", json=body, headers=user.headers) for _ in range(9))
    )
    assert sorted(r.status for r in statuses) == [201] * 6 + [409] * 3
    assert len(await api.call("GET", "/me/privacy-zones", user, expect=200)) == 10
    assert_error(
        await api.call("POST", "/me/privacy-zones", user, expect=409, json=body), "conflict"
    )


async def test_others_see_the_path_without_points_in_zones_added_after_the_walk(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, fan, stranger = await api.signup(), await api.signup(), await api.signup()
    await follow(db, fan, owner)
    path = path_from_home()
    public = await post_walk(api, owner, path=path)
    followers_only = await post_walk(api, owner, path=path, visibility="followers")
    assert await path_seen(api, stranger, public["id"]) == path
    home = await add_zone(api, owner, radius_m=550)  # hides 0..500 m
    park = await add_zone(api, owner, radius_m=150, **north_of(HOME, 1500))  # 1400..1600 m
    hidden = {0, 1, 2, 3, 4, 5, 14, 15, 16}
    expected = [p for i, p in enumerate(path) if i not in hidden]
    assert await path_seen(api, stranger, public["id"]) == expected
    assert await path_seen(api, fan, public["id"]) == expected
    assert await path_seen(api, fan, followers_only["id"]) == expected
    assert await path_seen(api, owner, public["id"]) == path
    await api.call("DELETE", f"/me/privacy-zones/{home['id']}", owner, expect=204)
    assert await path_seen(api, stranger, public["id"]) == [
        p for i, p in enumerate(path) if i not in {14, 15, 16}
    ]
    await api.call("DELETE", f"/me/privacy-zones/{park['id']}", owner, expect=204)
    assert await path_seen(api, stranger, public["id"]) == path


async def test_a_viewers_own_zones_do_not_trim_someone_elses_walk(api: Api) -> None:
    owner, neighbour = await api.signup(), await api.signup()
    walk = await post_walk(api, owner, path=path_from_home())
    await add_zone(api, neighbour, radius_m=1000)
    assert await path_seen(api, neighbour, walk["id"]) == path_from_home()


async def test_a_walk_without_a_path_stays_null_for_others(api: Api) -> None:
    owner, stranger = await api.signup(), await api.signup()
    walk = await post_walk(api, owner)
    await add_zone(api, owner)
    assert (await api.call("GET", f"/walks/{walk['id']}", stranger, expect=200))["path"] is None


async def test_deleting_the_account_deletes_its_zones(api: Api, db: asyncpg.Connection) -> None:
    user = await api.signup()
    await add_zone(api, user)
    await db.execute("DELETE FROM users WHERE id = $1", uuid.UUID(user.id))
    assert await db.fetchval("SELECT count(*) FROM privacy_zones") == 0


def at(lat: float, lng: float) -> dict[str, float]:
    return {"lat": lat, "lng": lng, "t": 0}


@pytest.mark.parametrize(
    ("zone", "inside", "outside"),
    [
        # The edge, a metre either side of a 100 m radius.
        ([*HOME, 100.0], [north_of(HOME, 99)], [north_of(HOME, 101)]),
        # East-west too: at 37.6 degrees a degree of longitude is shorter than one of latitude.
        (
            [*HOME, 1000.0],
            [at(HOME[0], HOME[1] + 999 / (METRES_PER_DEGREE * math.cos(math.radians(HOME[0]))))],
            [at(HOME[0], HOME[1] + 1001 / (METRES_PER_DEGREE * math.cos(math.radians(HOME[0]))))],
        ),
        # Across the antimeridian (Fiji), and around a pole.
        ([-16.5, 179.999, 500.0], [at(-16.5, -179.999)], [at(-16.5, -179.99)]),
        ([89.999, 0.0, 1000.0], [at(89.9995, 180.0), at(90.0, 0.0)], [at(89.99, 0.0)]),
    ],
)
def test_a_point_is_hidden_exactly_when_it_is_within_the_radius(
    zone: list[float], inside: list[dict[str, Any]], outside: list[dict[str, Any]]
) -> None:
    assert visible_path(inside + outside, [zone]) == outside
