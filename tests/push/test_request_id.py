"""One X-Request-ID, followed in JSON logs from the API's request line to the worker's send."""

from __future__ import annotations

from services.api.push_worker.worker import log as worker_log
from shared.settings import Settings
from tests.push.conftest import eventually, running_worker
from tests.push.fake_google import FakeGoogle
from tests.support import Api
from tests.test_logging import captured

TRACE = "follow-trace-42"


async def test_a_push_logs_with_the_id_of_the_request_that_caused_it(
    api: Api, fake_google: FakeGoogle, push_settings: Settings
) -> None:
    alice, bob = await api.signup(), await api.signup()
    await api.call(
        "POST", "/devices", bob, json={"token": "bob-phone", "platform": "android"}, expect=201
    )
    with captured("json") as logged:
        resp = await api.client.post(
            f"/users/{bob.id}/follow", headers={**alice.headers, "X-Request-ID": TRACE}
        )
        assert resp.status == 201
        assert resp.headers["X-Request-ID"] == TRACE
        async with running_worker(push_settings):
            await eventually(lambda: fake_google.delivered("bob-phone"), what="the push")
            await eventually(
                lambda: any("settled" in line for line in logged.lines), what="the settle line"
            )
    lines = logged.json()
    [request_line] = [
        line
        for line in lines
        if line["logger"] == "aiohttp.access" and line["route"] == "/users/{id}/follow"
    ]
    assert request_line["request_id"] == TRACE
    assert (request_line["method"], request_line["status"]) == ("POST", 201)
    [sent] = [
        line for line in lines if line["logger"] == worker_log.name and "settled" in line["message"]
    ]
    assert sent["request_id"] == TRACE
    assert all(line.get("request_id") in (TRACE, None) for line in lines)
