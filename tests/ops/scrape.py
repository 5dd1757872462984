"""Reading a Prometheus text page the way Prometheus does (prometheus-client's own parser)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when it has not been exported (a counter never incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def eventually(condition: Callable[[], bool], seconds: float = 30) -> None:
    """Wait until ``condition()`` holds; fail the test if it never does."""
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)
