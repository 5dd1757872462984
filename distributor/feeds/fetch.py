"""Fetching feeds and article pages politely, with typed results and errors.

A good citizen of other people's servers: conditional GET (a 304 costs neither side a body),
compressed transfer, a User-Agent that says who is asking, ``Retry-After`` honoured on 429 and
503, and exponential backoff with jitter after failures. And a careful one: connect, read and
overall deadlines, a cap on the body (streamed, so an endless answer stops at the cap) and on
redirects. Callers see ``Fetched`` or ``FetchError``, never an httpx exception.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import enum
import ipaddress
import random
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from distributor import __version__
from distributor.clock import Clock, utcnow

USER_AGENT = f"distributor/{__version__} (newsroom feed reader; honours 304 and Retry-After)"
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
# A server's Retry-After beyond this is taken as this: one bad header must not silence a feed.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Deadlines and caps for one request (tests set them short)."""

    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5


class FetchErrorKind(enum.StrEnum):
    TIMEOUT = "timeout"
    TOO_LARGE = "too_large"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    HTTP_STATUS = "http_status"
    RATE_LIMITED = "rate_limited"  # 429, or 503 with Retry-After
    CONNECTION = "connection"
    INVALID_URL = "invalid_url"
    PRIVATE_ADDRESS = "private_address"  # a page a feed pointed at, on a non-public address
    PROTOCOL = "protocol"  # a body that cannot be decoded, an unexpected answer


class FetchError(Exception):
    """A request that gave no usable answer; ``str()`` names the URL and what went wrong."""

    def __init__(
        self,
        kind: FetchErrorKind,
        url: str,
        detail: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.kind = kind
        self.url = url
        self.detail = detail
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"{url}: {detail}")


@dataclass(frozen=True, slots=True)
class Validators:
    """What the server said identifies the version we have, for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


_NONE = Validators()


@dataclass(frozen=True, slots=True)
class Fetched:
    """A 200 with its body, or a 304 (``not_modified``, empty body)."""

    url: str  # after redirects
    status: int
    body: bytes
    content_type: str | None
    validators: Validators

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def media_type(self) -> str:
        """The content type without parameters, lower case ('' when the server gave none)."""
        return (self.content_type or "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in (self.content_type or "").split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"')
        return None


@dataclass
class Backoff:
    """When to try a failing feed again: exponential, capped, with jitter.

    The delay for the n-th consecutive failure is ``base * 2**(n-1)`` (capped at ``max``),
    stretched by up to ``jitter`` at random so feeds that failed together do not come back
    together. It never comes earlier than a server's ``Retry-After``.
    """

    base_seconds: float
    max_seconds: float = 6 * 3600.0
    jitter: float = 0.25
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        ceiling = max(self.base_seconds, self.max_seconds)
        exponential = min(ceiling, self.base_seconds * 2.0 ** max(failures - 1, 0))
        wait = min(ceiling, exponential * (1.0 + self.rng.uniform(0.0, self.jitter)))
        if retry_after is not None:
            wait = max(wait, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        return wait


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


# Set for the requests whose URL came from a feed's content: their hosts (and every redirect's)
# must be public, or a hostile feed could make the worker read an intranet page and publish it.
_PUBLIC_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("public_only", default=False)


async def is_public(host: str) -> bool:
    """True when every address ``host`` resolves to is a public (global) one."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except OSError:
            return True  # unresolvable: the request itself will fail and say so
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    return all(address.is_global for address in addresses)


async def _guard(request: httpx.Request) -> None:
    if _PUBLIC_ONLY.get() and not await is_public(request.url.host):
        raise FetchError(
            FetchErrorKind.PRIVATE_ADDRESS,
            str(request.url),
            "refused: the address is not a public one",
        )


class FeedClient:
    """One pooled ``httpx.AsyncClient`` for every feed and article page of a worker.

    Use as an async context manager, or call ``aclose``.
    """

    def __init__(
        self,
        limits: FetchLimits | None = None,
        *,
        clock: Clock = utcnow,
        max_connections: int = 20,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.limits = limits or FetchLimits()
        self.clock = clock
        self.http = httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT},
            timeout=httpx.Timeout(
                connect=self.limits.connect_timeout,
                read=self.limits.read_timeout,
                write=self.limits.read_timeout,
                pool=self.limits.total_timeout,
            ),
            follow_redirects=True,
            max_redirects=self.limits.max_redirects,
            event_hooks={"request": [_guard]},  # runs for every redirect too
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
        )

    async def __aenter__(self) -> FeedClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def get(
        self,
        url: str,
        *,
        validators: Validators | None = None,
        headers: Mapping[str, str] | None = None,
        accept: str = FEED_ACCEPT,
        max_bytes: int | None = None,
        public_only: bool = False,
    ) -> Fetched:
        """GET ``url``; a 200 or 304 comes back as ``Fetched``, anything else raises.

        With ``public_only``, a URL (or a redirect) to a loopback, private or link-local
        address is refused.

        Raises:
            FetchError: timed out, too large, too many redirects, an error status, a network
                failure, an undecodable body, or a refused address. ``retry_after`` is set when
                the server said when to come back.
        """
        request_headers = {"Accept": accept, **(headers or {})}
        if validators is not None:
            if validators.etag:
                request_headers["If-None-Match"] = validators.etag
            if validators.last_modified:
                request_headers["If-Modified-Since"] = validators.last_modified
        cap = max_bytes if max_bytes is not None else self.limits.max_bytes
        token = _PUBLIC_ONLY.set(public_only)
        try:
            async with asyncio.timeout(self.limits.total_timeout):
                return await self._get(url, request_headers, cap, validators)
        except TimeoutError:
            raise FetchError(
                FetchErrorKind.TIMEOUT,
                url,
                f"no complete answer within {self.limits.total_timeout:g} s",
            ) from None
        except httpx.TimeoutException as exc:
            raise FetchError(FetchErrorKind.TIMEOUT, url, _timeout_detail(exc)) from None
        except httpx.TooManyRedirects:
            raise FetchError(
                FetchErrorKind.TOO_MANY_REDIRECTS,
                url,
                f"more than {self.limits.max_redirects} redirects (a redirect loop?)",
            ) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise FetchError(FetchErrorKind.INVALID_URL, url, f"invalid URL: {exc}") from None
        except httpx.DecodingError as exc:
            raise FetchError(
                FetchErrorKind.PROTOCOL, url, f"cannot decode the body: {exc}"
            ) from None
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            raise FetchError(
                FetchErrorKind.CONNECTION, url, f"connection failed: {detail}"
            ) from None
        finally:
            _PUBLIC_ONLY.reset(token)

    async def _get(
        self, url: str, headers: dict[str, str], cap: int, validators: Validators | None
    ) -> Fetched:
        async with self.http.stream("GET", url, headers=headers) as response:
            final = str(response.url)
            status = response.status_code
            if status == 304:
                # Read the (empty) body to its end, or the connection is not kept alive.
                await response.aread()
                # A 304 may omit the validators; the ones we sent are still the right ones.
                return Fetched(
                    final,
                    304,
                    b"",
                    response.headers.get("content-type"),
                    Validators(
                        response.headers.get("etag") or (validators or _NONE).etag,
                        response.headers.get("last-modified")
                        or (validators or _NONE).last_modified,
                    ),
                )
            if status in (429, 503):
                wait = parse_retry_after(response.headers.get("retry-after"), self.clock())
                if status == 429 or wait is not None:
                    said = f"; retry after {wait:g} s" if wait is not None else ""
                    raise FetchError(
                        FetchErrorKind.RATE_LIMITED,
                        url,
                        f"HTTP {status} {response.reason_phrase}{said}",
                        status=status,
                        retry_after=wait,
                    )
            if status != 200:
                raise FetchError(
                    FetchErrorKind.HTTP_STATUS,
                    url,
                    f"HTTP {status} {response.reason_phrase}".strip(),
                    status=status,
                )
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > cap:
                raise FetchError(
                    FetchErrorKind.TOO_LARGE,
                    url,
                    f"the body is {int(declared)} bytes (the limit is {cap})",
                )
            chunks: list[bytes] = []
            size = 0
            # Decoded bytes are counted, so a small gzip bomb stops at the cap too.
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise FetchError(
                        FetchErrorKind.TOO_LARGE,
                        url,
                        f"the body is larger than the limit of {cap} bytes",
                    )
                chunks.append(chunk)
            return Fetched(
                final,
                200,
                b"".join(chunks),
                response.headers.get("content-type"),
                Validators(response.headers.get("etag"), response.headers.get("last-modified")),
            )


def _timeout_detail(exc: httpx.TimeoutException) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, httpx.ReadTimeout):
        return "timed out waiting for the server to answer"
    return "timed out"
