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
from services.api.walks.privacy_zones import draw_hidden_area
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


def metres_between(a: dict[str, Any], b: tuple[float, float]) -> float:
    lat1, lat2 = math.radians(a["lat"]), math.radians(b[0])
    hav = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin(math.radians(b[1] - a["lng"]) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(hav))


async def test_others_see_the_path_without_points_in_zones_added_after_the_walk(
    api: Api, db: asyncpg.Connection
) -> None:
    owner, fan, stranger = await api.signup(), await api.signup(), await api.signup()
    await follow(db, fan, owner)
    path = path_from_home()
    public = await post_walk(api, owner, path=path)
    followers_only = await post_walk(api, owner, path=path, visibility="followers")
    assert await path_seen(api, stranger, public["id"]) == path
    # What a zone hides reaches at most 4.5 of its radii from the given point (its hidden
    # area, 540 m here) and half a radius more along the path (600 m): 700..800 m always shows.
    home = await add_zone(api, owner, radius_m=120)  # holds 0..100 m
    park = await add_zone(api, owner, radius_m=120, **north_of(HOME, 1500))  # 1400..1600 m
    in_a_zone = {0, 1, 14, 15, 16}
    for viewer, walk in ((stranger, public), (fan, public), (fan, followers_only)):
        seen = await path_seen(api, viewer, walk["id"])
        assert path[7] in seen and path[8] in seen
        assert all(p in path for p in seen)  # points left out, none moved
        assert not [i for i in in_a_zone if path[i] in seen]
    assert await path_seen(api, owner, public["id"]) == path
    await api.call("DELETE", f"/me/privacy-zones/{home['id']}", owner, expect=204)
    seen = await path_seen(api, stranger, public["id"])
    assert path[:9] == seen[:9]
    assert not [i for i in (14, 15, 16) if path[i] in seen]
    await api.call("DELETE", f"/me/privacy-zones/{park['id']}", owner, expect=204)
    assert await path_seen(api, stranger, public["id"]) == path


def walk_from_home(out_bearing: float, back_bearing: float, n: int) -> list[dict[str, Any]]:
    """A walk that leaves home along `out_bearing` for 1.5 km (a point every 10 m), crosses
    over, and comes home along `back_bearing` (radians from north)."""

    def at(metres: float, bearing: float) -> tuple[float, float]:
        north, east = metres * math.cos(bearing), metres * math.sin(bearing)
        lng_scale = METRES_PER_DEGREE * math.cos(math.radians(HOME[0]))
        return HOME[0] + north / METRES_PER_DEGREE, HOME[1] + east / lng_scale

    points = [at(10 * i, out_bearing) for i in range(151)]
    points += [at(1500, out_bearing + (back_bearing - out_bearing) * k / 20) for k in range(1, 20)]
    points += [at(10 * i, back_bearing) for i in range(150, -1, -1)]
    t0 = 1_764_000_000 + 86_400 * n
    return [{"lat": lat, "lng": lng, "t": t0 + 5 * i} for i, (lat, lng) in enumerate(points)]


def fitted_centre(points: list[dict[str, Any]]) -> tuple[float, float]:
    """The least-squares circle through the points (Kasa's fit, in local metres): its centre."""
    lng_scale = METRES_PER_DEGREE * math.cos(math.radians(HOME[0]))
    xy = [
        ((p["lng"] - HOME[1]) * lng_scale, (p["lat"] - HOME[0]) * METRES_PER_DEGREE) for p in points
    ]
    # x^2 + y^2 + D x + E y + F = 0, by the normal equations of the three unknowns.
    rows = [(x, y, 1.0, -(x * x + y * y)) for x, y in xy]
    a = [[sum(r[i] * r[j] for r in rows) for j in range(3)] for i in range(3)]
    b = [sum(r[i] * r[3] for r in rows) for i in range(3)]
    d, e, _ = solve3(a, b)
    x, y = -d / 2, -e / 2
    return HOME[0] + y / METRES_PER_DEGREE, HOME[1] + x / lng_scale


def solve3(a: list[list[float]], b: list[float]) -> list[float]:
    """Cramer's rule for a 3x3 system."""

    def det(m: list[list[float]]) -> float:
        return (
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        )

    whole = det(a)
    return [
        det([[b[r] if c == k else a[r][c] for c in range(3)] for r in range(3)]) / whole
        for k in range(3)
    ]


async def test_a_circle_fitted_to_where_ten_trimmed_walks_begin_and_end_misses_home(
    api: Api,
) -> None:
    """The attack of the issue: a stranger reads the owner's public walks from home and fits a
    circle through the first and last visible points of each. With the given circle as the
    edge it found home within metres; the centre it finds must be more than a radius away."""
    owner, stranger = await api.signup(), await api.signup()
    radius = 300.0
    await add_zone(api, owner, radius_m=radius)
    ends = []
    for n in range(10):
        out = 2 * math.pi * n / 10 + 0.3
        walk = await post_walk(api, owner, path=walk_from_home(out, out + 2.2, n))
        seen = await path_seen(api, stranger, walk["id"])
        assert all(metres_between(p, HOME) > radius for p in seen)
        ends += [seen[0], seen[-1]]
    centre = fitted_centre(ends)
    assert metres_between({"lat": centre[0], "lng": centre[1]}, HOME) > radius
    # Nor does the nearest visible point give it away: none is within the radius, and the
    # edges lie at different distances from home, walk to walk.
    distances = sorted(round(metres_between(p, HOME)) for p in ends)
    assert distances[-1] - distances[0] > radius / 2


async def test_each_walk_hides_its_own_stretch_the_same_on_every_read(api: Api) -> None:
    owner, stranger = await api.signup(), await api.signup()
    await add_zone(api, owner, radius_m=200)
    path = walk_from_home(0.0, 0.0, 0)  # out and back the same way: only the draw differs
    walks = [await post_walk(api, owner, path=path) for _ in range(6)]
    first_seen = [(await path_seen(api, stranger, w["id"]))[0] for w in walks]
    assert len({(p["lat"], p["lng"]) for p in first_seen}) > 1
    for walk, first in zip(walks, first_seen, strict=True):
        assert (await path_seen(api, stranger, walk["id"]))[0] == first


async def test_the_zone_list_shows_what_the_owner_entered_never_the_hidden_area(
    api: Api, db: asyncpg.Connection
) -> None:
    owner = await api.signup()
    zone = await add_zone(api, owner, radius_m=400)
    assert (zone["lat"], zone["lng"], zone["radius_m"]) == (*HOME, 400)
    hidden = await db.fetchrow(
        "SELECT hidden_lat, hidden_lng, hidden_radius_m FROM privacy_zones WHERE id = $1",
        uuid.UUID(zone["id"]),
    )
    offset = metres_between({"lat": hidden["hidden_lat"], "lng": hidden["hidden_lng"]}, HOME)
    assert 1.3 * 400 - 1 <= offset <= 1.6 * 400 + 1
    assert hidden["hidden_radius_m"] >= offset + 1.1 * 400 - 1  # the given circle is inside
    assert await api.call("GET", "/me/privacy-zones", owner, expect=200) == [zone]


async def test_a_partners_zone_hides_their_home_in_the_walk_they_took_together(
    api: Api,
) -> None:
    """A and B walk together from A's door; B records the walk. A's zone trims B's walk for
    everyone but B (its owner) and A (whose own zone it is)."""
    a, b, stranger = await api.signup(), await api.signup(), await api.signup()
    await add_zone(api, a, radius_m=300)
    invitation = await api.call("POST", "/invitations", a, expect=201, json={"invitee_id": b.id})
    await api.call("POST", f"/invitations/{invitation['id']}/accept", b, expect=200)
    path = path_from_home()
    walk = await post_walk(api, b, path=path, invitation_id=invitation["id"])
    seen = await path_seen(api, stranger, walk["id"])
    assert seen and not [p for p in seen if metres_between(p, HOME) <= 300]
    assert await path_seen(api, b, walk["id"]) == path
    assert await path_seen(api, a, walk["id"]) == path
    # A walk of B's that is not the walk together keeps all its points.
    alone = await post_walk(api, b, path=path)
    assert await path_seen(api, stranger, alone["id"]) == path


def test_every_drawn_hidden_area_holds_the_given_circle_and_is_centred_away_from_it() -> None:
    for radius in (100.0, 550.0, 1000.0):
        for _ in range(200):
            lat, lng, hidden_radius = draw_hidden_area(*HOME, radius)
            offset = metres_between({"lat": lat, "lng": lng}, HOME)
            assert radius * 1.3 - 0.01 <= offset <= radius * 1.6 + 0.01
            assert hidden_radius - offset >= 1.1 * radius - 0.01


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
