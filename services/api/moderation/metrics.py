"""Moderation's metrics on the API's internal listener (CONTRACT section 6, In time):
`withbowwow_reports_open{reason}` and `withbowwow_report_oldest_open_seconds`, read from the
database at each scrape, and `withbowwow_moderation_actions_total{action}`, counted here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from services.api.moderation.reasons import REASONS
from shared.keys import db_pool_key
from shared.metrics import ProcessMetrics, metrics_key

ACTIONS = ("dismiss", "hide", "suspend", "ban", "restore", "unsuspend", "auto_hide")


class ModerationMetrics(Collector):
    def __init__(self) -> None:
        self.open_by_reason: dict[str, int] = dict.fromkeys(REASONS, 0)
        self.oldest_open_s = 0.0
        self.actions: dict[str, int] = dict.fromkeys(ACTIONS, 0)

    def collect(self) -> Iterator[Any]:
        open_reports = GaugeMetricFamily(
            "withbowwow_reports_open",
            "Reports waiting for a moderator, by reason.",
            labels=["reason"],
        )
        for reason, count in self.open_by_reason.items():
            open_reports.add_metric([reason], count)
        yield open_reports
        yield GaugeMetricFamily(
            "withbowwow_report_oldest_open_seconds",
            "Age of the oldest open report (0 when none is open).",
            value=self.oldest_open_s,
        )
        actions = CounterMetricFamily(
            "withbowwow_moderation_actions",
            "Moderation actions taken, by action (auto_hide: hidden by reports).",
            labels=["action"],
        )
        for action, count in self.actions.items():
            actions.add_metric([action], count)
        yield actions


moderation_metrics_key = web.AppKey("moderation_metrics", ModerationMetrics)


def watch_moderation(app: web.Application, metrics: ProcessMetrics) -> None:
    collector = ModerationMetrics()
    app[moderation_metrics_key] = collector
    metrics.registry.register(collector)

    async def refresh() -> None:
        rows = await app[db_pool_key].fetch(
            """SELECT reason, count(*) AS n,
                      extract(epoch FROM now() - min(created_at)) AS oldest
               FROM reports WHERE status = 'open' GROUP BY reason"""
        )
        counts = dict.fromkeys(REASONS, 0)
        oldest = 0.0
        for row in rows:
            counts[row["reason"]] = row["n"]
            oldest = max(oldest, float(row["oldest"]))
        collector.open_by_reason = counts
        collector.oldest_open_s = oldest

    metrics.scrape_hooks.append(refresh)


def count_action(app: web.Application, action: str) -> None:
    collector = app.get(moderation_metrics_key)
    if collector is not None:
        collector.actions[action] = collector.actions.get(action, 0) + 1


__all__ = ["count_action", "metrics_key", "watch_moderation"]
