"""The API's internal listener: GET /metrics and /healthz on API_METRICS_PORT, not on the public
port; the route label is the route's template, so 1,000 ids make one series, not 1,000."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from shared.metrics import HTTP_BUCKETS, metrics_port_key
from shared.settings import Settings
from tests.push.conftest import eventually
from tests.support import Api, make_settings, sample_value, scrape

STANDARD_FAMILIES = {"process_cpu_seconds", "process_resident_memory_bytes", "python_info"}


async def test_api_metrics_have_the_contract_families_after_requests(
    api: Api, api_client: TestClient
) -> None:
    user = await api.signup()
    await api.call("GET", f"/users/{user.id}", user, expect=200)
    app = api_client.server.app
    assert app is not None
    families = await scrape(app[metrics_port_key])

    assert set(families) >= STANDARD_FAMILIES
    requests = families["withbowwow_http_requests"]
    assert (
        sample_value(
            requests,
            "withbowwow_http_requests_total",
            route="/users/{id}",
            method="GET",
            status="200",
        )
        == 1
    )
    assert (
        sample_value(requests, "withbowwow_http_requests_total", route="/auth/signup", status="201")
        == 1
    )
    durations = families["withbowwow_http_request_duration_seconds"]
    assert (
        sample_value(
            durations,
            "withbowwow_http_request_duration_seconds_count",
            route="/users/{id}",
            method="GET",
        )
        >= 1
    )
    assert (
        sample_value(
            durations,
            "withbowwow_http_request_duration_seconds_bucket",
            route="/users/{id}",
            le="+Inf",
        )
        >= 1
    )
    pool = families["withbowwow_db_pool_connections"]
    assert {s.labels["state"] for s in pool} == {"in_use", "idle"}
    assert (
        0
        < sample_value(families["withbowwow_redis_ping_seconds"], "withbowwow_redis_ping_seconds")
        < 1
    )


async def test_the_sweeper_runs_are_counted_with_their_durations(
    database_url: str, redis_url: str, aiohttp_client: Any
) -> None:
    settings = make_settings(database_url, redis_url, invitation_sweep_interval_s=0.01)
    client = await aiohttp_client(create_app(settings))
    port = client.server.app[metrics_port_key]

    async def swept_twice() -> bool:
        families = await scrape(port)
        runs = sample_value(
            families["withbowwow_sweeper_duration_seconds"],
            "withbowwow_sweeper_duration_seconds_count",
            sweeper="invitations",
        )
        return runs >= 2

    await eventually(swept_twice, what="two sweeps")


async def test_a_thousand_ids_make_one_series_per_route(api: Api, api_client: TestClient) -> None:
    user = await api.signup()
    for _ in range(1000):
        await api.call("GET", f"/users/{uuid.uuid4()}", user, expect=404)
    for _ in range(100):  # paths no route matches, and methods no one uses
        await api.client.get(f"/nowhere/{uuid.uuid4()}")
        await api.client.request("BREW", f"/users/{uuid.uuid4()}")
    app = api_client.server.app
    assert app is not None
    families = await scrape(app[metrics_port_key])
    series = families["withbowwow_http_requests"]
    routes = {s.labels["route"] for s in series}
    assert not any(str(user.id) in route for route in routes)
    assert {s.labels["method"] for s in series} <= {"GET", "POST", "other"}
    users = [s for s in series if s.labels["route"] == "/users/{id}"]
    assert [
        (s.labels["method"], s.labels["status"], s.value) for s in users if s.value >= 1000
    ] == [("GET", "404", 1000)]
    assert len(series) <= 6, sorted((s.labels["route"], s.labels["status"]) for s in series)
    # A histogram series per (route, method): its buckets, +Inf, _count and _sum (and _created).
    per_histogram = len(HTTP_BUCKETS) + 4
    assert len(families["withbowwow_http_request_duration_seconds"]) <= 6 * per_histogram


async def test_internal_listener_serves_health_and_the_public_port_no_metrics(
    api_client: TestClient, settings: Settings
) -> None:
    app = api_client.server.app
    assert app is not None
    async with aiohttp.ClientSession() as session:
        internal = f"http://127.0.0.1:{app[metrics_port_key]}"
        async with session.get(f"{internal}/healthz") as resp:
            assert resp.status == 200
            assert await resp.json() == {"status": "ok"}
    assert (await api_client.get("/metrics")).status == 404
