"""The readers' web service (Starlette): subscribe, confirm, unsubscribe.

- ``GET /subscribe/{list}`` shows the form; ``POST`` creates a pending reader and emails a
  signed confirmation link. The answer is the same whether or not the address was known.
- ``GET /confirm/{token}`` shows a button; ``POST`` confirms. Mail scanners open links, so a GET
  never changes anything.
- ``GET /unsubscribe/{token}`` shows a button; ``POST`` unsubscribes. The POST is also RFC 8058's
  one-click request (``List-Unsubscribe=One-Click``, no cookies, no login): it answers 200, never
  a redirect, and sets no cookie.
- A token that is malformed or does not verify gets 403 and a page saying the link is not valid,
and one log line saying why (never the token).

No access log is written: the URLs carry the tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import BaseRoute, Route

from distributor import errors
from distributor.clock import Clock
from distributor.config import AppConfig
from distributor.logs import REDACTOR
from distributor.rendering import Renderer
from distributor.store import Store
from distributor.web import WebContext as CoreWebContext
from distributor_channels.email import addresses
from distributor_channels.email.config import EmailChannelConfig
from distributor_channels.email.confirmation import ConfirmationMailer
from distributor_channels.email.links import Links
from distributor_channels.email.models import Subscriber, SubscriberStatus
from distributor_channels.email.subscribers import Subscribers, Wanted
from distributor_channels.email.tokens import Claims, Purpose
from distributor_channels.email.topics import normalise_topics

log = logging.getLogger("distributor.email.web")


def lists_of(app: AppConfig) -> Mapping[str, EmailChannelConfig]:
    """List name → the (first) email channel that mails it."""
    found: dict[str, EmailChannelConfig] = {}
    for channel in app.channels:
        if isinstance(channel, EmailChannelConfig):
            found.setdefault(channel.list_name, channel)
    return found


@dataclass
class WebContext:
    """What the web service works with, opened by ``distributor web`` (or a test)."""

    app: AppConfig
    store: Store
    renderer: Renderer
    links: Links
    mailer: ConfirmationMailer
    clock: Clock

    @classmethod
    def build(
        cls, app: AppConfig, store: Store, renderer: Renderer, outbox_dir: Path, clock: Clock
    ) -> WebContext:
        """Raises ValueError when ``web.base_url`` is not a plain http(s) URL."""
        links = Links(app.web)
        mailer = ConfirmationMailer(links, renderer, outbox_dir, clock)
        return cls(app, store, renderer, links, mailer, clock)

    @property
    def lists(self) -> Mapping[str, EmailChannelConfig]:
        return lists_of(self.app)


class _Pages:
    def __init__(self, context: WebContext) -> None:
        self.context = context
        self.subscribers = Subscribers(context.store)

    # -- rendering --------------------------------------------------------------------------

    def page(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        values.setdefault("list_title", "Newsletter")
        body = self.context.renderer.render(f"email/{template}", values)
        return HTMLResponse(body, status_code=status)

    def done(self, heading: str, message: str, status: int = 200, **values: Any) -> HTMLResponse:
        values.setdefault("link", None)
        return self.page("done.html.j2", status, heading=heading, message=message, **values)

    def invalid(self, purpose: Purpose, why: str) -> HTMLResponse:
        log.warning("refused a %s link: %s", purpose, why)
        return self.done(
            "This link is not valid",
            "The link may have been mistyped or cut. Please use the link from your email as it is.",
            403,
        )

    # -- subscribe --------------------------------------------------------------------------

    async def index(self, request: Request) -> HTMLResponse:
        lists = self.context.lists
        if len(lists) == 1:
            return await self.subscribe_form(request, next(iter(lists)))
        names = ", ".join(sorted(lists)) or "none"
        return self.done("Newsletters", f"Lists: {names}. Open /subscribe/<list> to join one.")

    async def subscribe_form(self, request: Request, name: str | None = None) -> HTMLResponse:
        channel = self._list(name or request.path_params["list"])
        if channel is None:
            return self.done("No such newsletter", "There is no newsletter at this address.", 404)
        return self._form(channel)

    def _form(
        self,
        channel: EmailChannelConfig,
        *,
        address: str = "",
        chosen: tuple[str, ...] = (),
        error: str | None = None,
    ) -> HTMLResponse:
        return self.page(
            "subscribe.html.j2",
            400 if error else 200,
            list_title=channel.list_title or channel.list_name,
            action=self._subscribe_path(channel),
            topics=list(channel.topics),
            chosen=list(chosen),
            address=address,
            error=error,
        )

    async def subscribe(self, request: Request) -> HTMLResponse:
        channel = self._list(request.path_params["list"])
        if channel is None:
            return self.done("No such newsletter", "There is no newsletter at this address.", 404)
        form = await request.form(max_files=0, max_fields=64)
        typed = str(form.get("email") or "")
        offered = set(channel.topics)
        chosen = tuple(
            t for t in normalise_topics(str(v) for v in form.getlist("topics")) if t in offered
        )
        try:
            address = addresses.normalise(typed)
        except addresses.InvalidAddress as exc:
            return self._form(channel, address=typed[:320], chosen=chosen, error=str(exc))
        existing = await self.subscribers.find(channel.list_name, address)
        if existing is None or existing.status != SubscriberStatus.CONFIRMED:
            wanted = Wanted(address, list(chosen), SubscriberStatus.PENDING)
            (result,) = await self.subscribers.upsert(
                channel.list_name, [wanted], source="web", reopen=True
            )
            if result.send_confirmation:
                try:
                    await self.context.mailer.send(channel, result.subscriber)
                except errors.DeliveryError as exc:
                    return self.done(
                        "Please try again later",
                        "We could not send the confirmation email just now: "
                        + REDACTOR.scrub(exc.reason),
                        503,
                    )
                await self.subscribers.mark_confirmation_sent(result.subscriber.id)
        # The same answer whatever the address's state: the form tells nobody who subscribed.
        return self.done(
            "Check your inbox",
            f"If {address} can receive {channel.list_title or channel.list_name}, a confirmation "
            "link is on its way. Nothing is sent until you open it.",
            list_title=channel.list_title or channel.list_name,
        )

    # -- confirm ----------------------------------------------------------------------------

    async def confirm_page(self, request: Request) -> HTMLResponse:
        found = await self._reader(request, "confirm")
        if isinstance(found, HTMLResponse):
            return found
        channel, reader = found
        title = channel.list_title or channel.list_name
        if reader.status == SubscriberStatus.CONFIRMED:
            return self.done("Already confirmed", f"{reader.address} receives {title}.")
        if reader.status != SubscriberStatus.PENDING:
            return self._left(channel, reader)
        return self.page(
            "confirm_page.html.j2",
            list_title=title,
            action=request.url.path,
            address=reader.address,
        )

    async def confirm(self, request: Request) -> HTMLResponse:
        found = await self._reader(request, "confirm")
        if isinstance(found, HTMLResponse):
            return found
        channel, reader = found
        title = channel.list_title or channel.list_name
        if reader.status == SubscriberStatus.PENDING and not await self.subscribers.confirm(
            reader.id
        ):
            reader = await self.subscribers.get(reader.id) or reader  # changed meanwhile
        if reader.status not in (SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED):
            return self._left(channel, reader)
        return self.done("Subscription confirmed", f"{reader.address} will receive {title}.")

    def _left(self, channel: EmailChannelConfig, reader: Subscriber) -> HTMLResponse:
        # An old confirmation link of a reader who has left since: it confirms nothing.
        return self.done(
            "This link is no longer valid",
            f"{reader.address} has left {channel.list_title or channel.list_name}. "
            "Subscribe again to receive it.",
            410,
            link={"url": self._subscribe_path(channel), "label": "Subscribe again"},
        )

    # -- unsubscribe ------------------------------------------------------------------------

    async def unsubscribe_page(self, request: Request) -> HTMLResponse:
        found = await self._reader(request, "unsubscribe")
        if isinstance(found, HTMLResponse):
            return found
        channel, reader = found
        title = channel.list_title or channel.list_name
        if reader.status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED):
            return self.done("Unsubscribed", f"{reader.address} no longer receives {title}.")
        return self.page(
            "unsubscribe.html.j2", list_title=title, action=request.url.path, address=reader.address
        )

    async def unsubscribe(self, request: Request) -> HTMLResponse:
        # RFC 8058: the body is "List-Unsubscribe=One-Click"; the token alone decides.
        found = await self._reader(request, "unsubscribe")
        if isinstance(found, HTMLResponse):
            return found
        channel, reader = found
        await self.subscribers.unsubscribe(reader.id)
        title = channel.list_title or channel.list_name
        return self.done("Unsubscribed", f"{reader.address} will receive no more {title}.")

    # -- helpers ----------------------------------------------------------------------------

    def _subscribe_path(self, channel: EmailChannelConfig) -> str:
        # The path of web.base_url included: the service may sit behind a proxy at a sub-path.
        return urlsplit(self.context.links.subscribe(channel.list_name)).path

    def _list(self, name: str) -> EmailChannelConfig | None:
        return self.context.lists.get(name)

    async def _reader(
        self, request: Request, purpose: Purpose
    ) -> tuple[EmailChannelConfig, Subscriber] | HTMLResponse:
        """The reader a token names, once its signature is checked; else the page to show."""
        signer = self.context.links.signer
        claims = signer.parse(str(request.path_params["token"]), purpose)
        if claims is None:
            return self.invalid(purpose, "the token is malformed")
        reader = await self.subscribers.get(claims.subscriber_id)
        if reader is None or reader.list_name != claims.list_name:
            return self.invalid(purpose, f"no reader {claims.subscriber_id} on that list")
        if not signer.verify(claims, reader.address):
            return self.invalid(purpose, f"the token of reader {reader.id} does not verify")
        channel = self._list(claims.list_name)
        if channel is None:
            return self.done("No such newsletter", "This newsletter no longer exists.", 404)
        if purpose == "confirm" and self._expired(claims, channel):
            return self.done(
                "This link has expired",
                "Confirmation links work for a few days. Please subscribe again.",
                410,
                link={"url": self._subscribe_path(channel), "label": "Subscribe again"},
            )
        return channel, reader

    def _expired(self, claims: Claims, channel: EmailChannelConfig) -> bool:
        assert claims.issued is not None
        return self.context.clock() - claims.issued > timedelta(days=channel.confirm_expiry_days)


def routes(web: CoreWebContext) -> list[BaseRoute]:
    """The readers' pages, mounted by the core web service (``distributor web``)."""
    context = WebContext.build(web.app, web.store, web.renderer, web.outbox_dir, web.clock)
    pages = _Pages(context)
    return [
        Route("/", pages.index, methods=["GET"]),
        Route("/subscribe/{list}", pages.subscribe_form, methods=["GET"]),
        Route("/subscribe/{list}", pages.subscribe, methods=["POST"]),
        Route("/confirm/{token}", pages.confirm_page, methods=["GET"]),
        Route("/confirm/{token}", pages.confirm, methods=["POST"]),
        Route("/unsubscribe/{token}", pages.unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe/{token}", pages.unsubscribe, methods=["POST"]),
        *ses_routes(context),
    ]


def ses_routes(context: WebContext) -> list[BaseRoute]:
    """``POST /bounces/ses`` when a list accepts SES notifications."""
    from distributor_channels.email import ses
    from distributor_channels.email.bounce_reader import BounceHandler

    configs = [c.bounces.ses for c in context.lists.values() if c.bounces and c.bounces.ses]
    if not configs:
        return []
    accepted = ses.topics(configs)
    certificates = ses.CertificateSource(configs[0].certificate_dir)
    handler = BounceHandler(context.app, context.store, "ses")

    async def notification(request: Request) -> PlainTextResponse:
        try:
            envelope = ses.parse(await request.body())
            if envelope.get("TopicArn") not in accepted:
                raise ses.Refused(f"topic {envelope.get('TopicArn')!r} is not configured")
            await ses.verify(envelope, certificates)
        except ValueError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        except ses.Refused as exc:
            log.warning("SES notification refused: %s", exc)
            return PlainTextResponse("refused", status_code=403)
        if envelope["Type"] == "SubscriptionConfirmation":
            log.warning(
                "SNS asks to confirm the subscription of topic %s: open %s",
                envelope.get("TopicArn"),
                envelope.get("SubscribeURL"),
            )
            return PlainTextResponse("ok")
        if envelope["Type"] == "Notification":
            try:
                event = ses.parse(str(envelope.get("Message", "")).encode())
            except ValueError:
                return PlainTextResponse("the notification's Message is not JSON", 400)
            for notice in ses.notices(event, handler.tokens):
                await handler.suppressor.apply(notice)
        return PlainTextResponse("ok")

    return [Route("/bounces/ses", notification, methods=["POST"])]
