"""deploy/grafana-dashboard.json queries only families that the three processes expose."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from services.realtime.app import create_app as create_gateway
from shared.metrics import metrics_port_key
from shared.settings import Settings
from tests.push.conftest import running_worker

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
METRIC_NAME = re.compile(r"\b(?:withbowwow|process|python)_[a-z_]+\b")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}


async def exposed_names(port: int) -> set[str]:
    """Every series name the listener's families can have, empty or not."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as resp,
    ):
        text = await resp.text()
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


def queries() -> list[str]:
    return [target["expr"] for panel in DASHBOARD["panels"] for target in panel["targets"]]


def test_dashboard_is_a_grafana_dashboard_with_prometheus_panels() -> None:
    assert DASHBOARD["title"] and DASHBOARD["panels"]
    for panel in DASHBOARD["panels"]:
        assert panel["title"] and panel["targets"], panel
        assert panel["datasource"]["type"] == "prometheus"


async def test_dashboard_queries_only_families_that_exist(
    api_client: TestClient, settings: Settings, aiohttp_client: Any
) -> None:
    gateway = await aiohttp_client(create_gateway(settings))
    exposed: set[str] = set()
    for client in (api_client, gateway):
        assert client.server.app is not None
        exposed |= await exposed_names(client.server.app[metrics_port_key])
    async with running_worker(settings) as worker:
        exposed |= await exposed_names(worker.metrics.port)
    used = {name for query in queries() for name in METRIC_NAME.findall(query)}
    assert used, "no query names a family"
    assert used - exposed == set()
    families = {"withbowwow_push_sends_total", "withbowwow_ws_locations_total"}
    assert families <= used
