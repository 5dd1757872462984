"""The Grafana dashboard in docs/ only queries metrics the code really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from distributor import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
METRIC = re.compile(r"\bdistributor_[a-z_]+\b")


def queried_names() -> set[str]:
    data = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in data["panels"] for t in panel["targets"]]
    assert exprs
    return {name for expr in exprs for name in METRIC.findall(expr)}


def test_every_metric_the_dashboard_queries_is_exported() -> None:
    missing = queried_names() - metrics.exported_names()
    assert not missing, f"the dashboard queries metrics nobody exports: {sorted(missing)}"


def test_the_dashboard_shows_every_metric_the_issue_asks_for() -> None:
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in queried_names()}
    for name in (
        "distributor_deliveries",
        "distributor_send_seconds",
        "distributor_queue_to_post_seconds",
        "distributor_queue_depth",
        "distributor_oldest_due_seconds",
        "distributor_rate_limited",
        "distributor_pacing_wait_seconds",
        "distributor_email_messages",
        "distributor_feed_polls",
        "distributor_channel_paused",
    ):
        assert name in shown, name
