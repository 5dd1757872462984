"""Liveness and readiness: is the database reachable, is the schema current, is time moving.

``/healthz`` only says the process answers. ``/readyz`` (and ``status --json``'s ``health``)
runs the checks below; each is bounded in time, so a database that hangs makes the probe
answer "not ready" rather than hang with it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text

from distributor import database
from distributor.clock import Clock
from distributor.logs import REDACTOR
from distributor.store import Store

CHECK_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class Check:
    """One readiness fact: its name, whether it holds, and what was seen."""

    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


class Heartbeat:
    """When the worker's scheduler last ran its tick job, and how often it should."""

    def __init__(self, interval_seconds: float, clock: Clock) -> None:
        self.interval = interval_seconds
        self.clock = clock
        self.last: datetime | None = None

    def beat(self) -> None:
        self.last = self.clock()

    def check(self) -> Check:
        if self.last is None:
            return Check("scheduler", False, "the scheduler has not ticked yet")
        age = (self.clock() - self.last).total_seconds()
        # Two intervals and a second: one late tick is not an outage.
        allowed = 2 * self.interval + 1.0
        detail = f"last tick {age:.1f} s ago (every {self.interval:g} s)"
        return Check("scheduler", age <= allowed, detail)


async def _bounded(name: str, work: Any) -> Check:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            detail = await work
    except TimeoutError:
        return Check(name, False, f"no answer within {CHECK_TIMEOUT_SECONDS:g} s")
    except Exception as exc:
        return Check(name, False, REDACTOR.scrub(f"{type(exc).__name__}: {exc}")[:300])
    if isinstance(detail, Check):
        return detail
    return Check(name, True, str(detail))


async def _ping(store: Store) -> str:
    async with store.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return f"{store.engine.dialect.name} answers"


async def _schema(store: Store) -> Check:
    current = await database.current_revisions(store.engine)
    heads = database.head_revisions()
    applied = await asyncio.to_thread(database.applied_revisions, current)
    missing = sorted(set(heads) - applied)
    shown = ", ".join(current) or "none"
    if missing:
        return Check("schema", False, f"at {shown}; needs {', '.join(missing)}: run db upgrade")
    return Check("schema", True, f"at {shown}")


async def readiness(store: Store, heartbeat: Heartbeat | None = None) -> list[Check]:
    """Every readiness check; the scheduler's only where one runs (a worker, not the web)."""
    checks = [await _bounded("database", _ping(store))]
    if checks[0].ok:
        checks.append(await _bounded("schema", _schema(store)))
    else:
        checks.append(Check("schema", False, "not checked: the database does not answer"))
    if heartbeat is not None:
        checks.append(heartbeat.check())
    return checks


def report(checks: list[Check]) -> dict[str, Any]:
    """The JSON form of ``/readyz`` and of ``status --json``'s ``health``."""
    return {"ready": all(c.ok for c in checks), "checks": [c.to_json() for c in checks]}


async def worker_scheduler(host: str, port: int) -> Check:
    """The scheduler check of the worker serving probes at ``host:port`` (for ``status``)."""
    import httpx

    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (a listening address, not a bind)
        host = "127.0.0.1"
    url = f"http://{host}:{port}/readyz"
    try:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_SECONDS) as client:
            answer = (await client.get(url)).json()
        found = [c for c in answer.get("checks", []) if c.get("name") == "scheduler"]
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return Check("scheduler", False, f"no worker answers at {url}: {type(exc).__name__}")
    if not found:
        return Check("scheduler", False, f"{url} reports no scheduler")
    return Check("scheduler", bool(found[0].get("ok")), f"{url}: {found[0].get('detail', '')}")
