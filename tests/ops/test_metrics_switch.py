"""`metrics.counting: false` turns the worker's counters off (what the metrics benchmark
compares against); on, the same run counts every delivery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from distributor import metrics
from distributor.service import Service
from distributor.store import Store
from tests.helpers import draft, outbox_config, write_config


def sent_total() -> float:
    return sum(
        sample.value
        for metric in metrics.DELIVERIES.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels["outcome"] == "sent"
    )


@pytest.fixture(autouse=True)
def counting_restored() -> Iterator[None]:
    yield
    metrics.set_counting(True)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("counting", [True, False])
async def test_counting_false_leaves_the_counters_alone(
    store_url: str, tmp_path: Path, counting: bool
) -> None:
    data = outbox_config(store_url, tmp_path)
    data["metrics"] = {"port": 0, "counting": counting}
    loaded = write_config(tmp_path, data)
    store = await Store.open(loaded.app.store)
    try:
        await store.add_article(draft(1, publish_at=datetime.now(UTC) - timedelta(seconds=1)))
    finally:
        await store.close()
    before = sent_total()

    report = await Service(loaded, workdir=tmp_path).run_once()

    assert report.done == 3
    assert sent_total() - before == (3 if counting else 0)
    assert metrics.counting() is counting
