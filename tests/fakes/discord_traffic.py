"""Rate limiting and scriptable faults for the fake Discord API."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["5xx", "429", "timeout", "drop"]
ALL_FAULT_KINDS: tuple[FaultKind, ...] = ("5xx", "429", "timeout", "drop")
RATE_LIMITED_MESSAGE = "You are being rate limited."
_RANDOM_5XX = (500, 502, 503, 504)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Limits the fake enforces. Real values are not documented; these are typical.

    Attributes:
        per_route_limit: Requests per bucket (route + channel) per window for bot routes.
        per_route_window: Window length in seconds for bot routes.
        global_per_second: Requests per second per bot across all routes.
        webhook_limit: Requests per bucket (route + webhook) per window for webhook routes.
        webhook_window: Window length in seconds for webhook routes.
    """

    per_route_limit: int = 5
    per_route_window: float = 5.0
    global_per_second: int = 50
    webhook_limit: int = 5
    webhook_window: float = 2.0


@dataclass(slots=True)
class _Window:
    reset_at: float
    count: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of a rate-limit check: headers to send, and whether it is a 429."""

    headers: dict[str, str]
    limited: bool = False
    is_global: bool = False
    retry_after: float = 0.0


def _fmt(seconds: float) -> str:
    return f"{seconds:.3f}"


class RateLimiter:
    """Fixed-window buckets keyed by (bucket hash, major parameter, identity)."""

    def __init__(self, limits: RateLimits, seed: int) -> None:
        self.limits = limits
        self._seed = seed
        self._buckets: dict[tuple[str, str], _Window] = {}
        self._global: dict[str, _Window] = {}

    def bucket_hash(self, route: str) -> str:
        """A stable hash-like bucket id for a route (method + template)."""
        return hashlib.sha256(f"{self._seed}:{route}".encode()).hexdigest()[:32]

    def check(
        self, route: str, major: str, identity: str | None, *, webhook: bool, now: float
    ) -> Verdict:
        """Count one request; return the headers, or a 429 verdict when over a limit.

        Args:
            route: ``"METHOD /template"``; it selects the bucket.
            major: The top-level resource (channel id, or webhook id + token).
            identity: The bot the global limit applies to (``None`` for webhooks).
            webhook: Whether the webhook limits apply instead of the per-route ones.
            now: Current time on the fake's clock.
        """
        if identity is not None:
            verdict = self._check_global(identity, now)
            if verdict is not None:
                return verdict
        limit = self.limits.webhook_limit if webhook else self.limits.per_route_limit
        window = self.limits.webhook_window if webhook else self.limits.per_route_window
        bucket = self.bucket_hash(route)
        key = (bucket, f"{major}:{identity}")
        state = self._buckets.get(key)
        if state is None or now >= state.reset_at:
            state = self._buckets[key] = _Window(reset_at=now + window)
        reset_after = max(state.reset_at - now, 0.001)
        limited = state.count >= limit
        if not limited:
            state.count += 1
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(limit - state.count),
            "X-RateLimit-Reset": _fmt(state.reset_at),
            "X-RateLimit-Reset-After": _fmt(reset_after),
            "X-RateLimit-Bucket": bucket,
        }
        if limited:
            headers.update(rate_limited_headers(reset_after, is_global=False))
        return Verdict(headers=headers, limited=limited, retry_after=reset_after)

    def _check_global(self, identity: str, now: float) -> Verdict | None:
        state = self._global.get(identity)
        if state is None or now >= state.reset_at:
            state = self._global[identity] = _Window(reset_at=now + 1.0)
        if state.count < self.limits.global_per_second:
            state.count += 1
            return None
        retry_after = max(state.reset_at - now, 0.001)
        return Verdict(
            headers=rate_limited_headers(retry_after, is_global=True),
            limited=True,
            is_global=True,
            retry_after=retry_after,
        )


def rate_limited_headers(retry_after: float, *, is_global: bool) -> dict[str, str]:
    """The extra headers of a 429 answer (``Via`` is added to every answer elsewhere)."""
    headers = {
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Scope": "global" if is_global else "user",
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    return headers


def rate_limited_body(
    retry_after: float, *, is_global: bool, message: str = "", code: int = 0
) -> dict[str, object]:
    """The JSON body of a 429 answer."""
    body: dict[str, object] = {
        "message": message or RATE_LIMITED_MESSAGE,
        "retry_after": round(retry_after, 3),
        "global": is_global,
    }
    if code:
        body["code"] = code
    return body


@dataclass(slots=True)
class Fault:
    """One scripted fault, applied to the next ``times`` matching requests.

    ``kind`` is ``"status"`` (answer ``status``), ``"timeout"`` (hold the request
    ``seconds``) or ``"drop"`` (close the connection without an answer).
    """

    kind: Literal["status", "timeout", "drop"]
    method: str | None = None
    template: str | None = None
    status: int = 500
    code: int = 0
    message: str = ""
    retry_after: float | None = None
    is_global: bool = False
    seconds: float = 0.0
    then_process: bool = False
    times: int = 1

    @property
    def label(self) -> str:
        """Short name recorded on the request (``"500"``, ``"timeout"``, ...)."""
        return str(self.status) if self.kind == "status" else self.kind


def parse_route_filter(route: str | None) -> tuple[str | None, str | None]:
    """Split ``"POST /channels/{channel_id}/messages"`` into (method, template).

    A bare template (leading ``/``) matches every method; a bare word is a method.
    """
    if route is None:
        return None, None
    route = route.strip()
    if " " in route:
        method, template = route.split(None, 1)
        return method.upper(), template.strip()
    if route.startswith("/"):
        return None, route
    return route.upper(), None


def _matches(method: str | None, template: str | None, req_method: str, req_template: str) -> bool:
    return (method is None or method == req_method) and (
        template is None or template == req_template
    )


@dataclass(slots=True)
class _RandomFaults:
    rate: float
    kinds: tuple[FaultKind, ...]
    rng: random.Random
    method: str | None
    template: str | None
    then_process: bool | None
    timeout_seconds: float
    retry_after: float


class FaultPlan:
    """Scripted faults first, then reproducible random ones."""

    def __init__(self) -> None:
        self.scripted: list[Fault] = []
        self._random: _RandomFaults | None = None

    def add(self, fault: Fault) -> None:
        """Queue a scripted fault."""
        if fault.times > 0:
            self.scripted.append(fault)

    def set_random(
        self,
        rate: float,
        *,
        kinds: Sequence[FaultKind],
        seed: int,
        route: str | None,
        then_process: bool | None,
        timeout_seconds: float,
        retry_after: float,
    ) -> None:
        """Inject a fault into each matching request with probability ``rate``."""
        unknown = set(kinds) - set(ALL_FAULT_KINDS)
        if unknown:
            raise ValueError(f"Unknown fault kinds: {sorted(unknown)}")
        if rate <= 0 or not kinds:
            self._random = None
            return
        method, template = parse_route_filter(route)
        self._random = _RandomFaults(
            rate,
            tuple(kinds),
            random.Random(seed),
            method,
            template,
            then_process,
            timeout_seconds,
            retry_after,
        )

    def take(self, method: str, template: str) -> Fault | None:
        """The fault for this request, if any (consumes one use of a scripted fault)."""
        for fault in self.scripted:
            if _matches(fault.method, fault.template, method, template):
                fault.times -= 1
                if fault.times <= 0:
                    self.scripted.remove(fault)
                return fault
        rnd = self._random
        if rnd is None or not _matches(rnd.method, rnd.template, method, template):
            return None
        if rnd.rng.random() >= rnd.rate:
            return None
        kind = rnd.rng.choice(rnd.kinds)
        then_process = rnd.then_process
        if then_process is None:
            then_process = rnd.rng.random() < 0.5
        if kind == "5xx":
            return Fault("status", status=rnd.rng.choice(_RANDOM_5XX), then_process=then_process)
        if kind == "429":
            return Fault("status", status=429, retry_after=rnd.retry_after, then_process=False)
        if kind == "timeout":
            return Fault("timeout", seconds=rnd.timeout_seconds, then_process=then_process)
        return Fault("drop", then_process=then_process)
