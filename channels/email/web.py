"""The readers' web service (Starlette): subscribe, confirm, preferences and unsubscribe.

- ``GET /subscribe/{list}`` shows the form; ``POST`` records the request and queues a
  confirmation email for the workers (``distributor run``) to send: nothing slow and no SMTP
  happens inside the request, and the answer (status, page) is the same whatever the
  address's state. Limits per client, recipient, domain and list (``subscribe_limits``) stop
  the form from being used to mail-bomb anybody.
- ``GET /confirm/{token}`` shows a button; ``POST`` confirms and queues the welcome email. Mail
  scanners open links, so a GET never changes anything. Only the latest request's link confirms.
- ``GET /unsubscribe/{token}`` shows the reader's preferences page: unsubscribe, topics,
  language, leave every list. ``POST`` unsubscribes; it is also RFC 8058's one-click request
  (``List-Unsubscribe=One-Click``, no cookies, no login): it answers 200, never a redirect, and
  sets no cookie. ``POST /preferences/{token}`` saves the topics and language, or leaves all.
- A token that is malformed or does not verify gets 403 and a page saying the link is not valid,
and one log line saying why (never the token).

Every page is in the list's language (or the reader's own choice). No access log is written:
the URLs carry the tokens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import BaseRoute, Route

from distributor.clock import Clock
from distributor.config import AppConfig
from distributor.rendering import Renderer
from distributor.store import Store
from distributor.web import WebContext as CoreWebContext
from distributor_channels.email import addresses, optin, wording
from distributor_channels.email.config import EmailChannelConfig
from distributor_channels.email.links import Links
from distributor_channels.email.models import Subscriber, SubscriberStatus
from distributor_channels.email.subscribers import Subscribers
from distributor_channels.email.throttle import SubscribeThrottle
from distributor_channels.email.tokens import Claims, Purpose
from distributor_channels.email.topics import from_column, normalise_topics

log = logging.getLogger("distributor.email.web")

# RFC 5321's longest usable path: longer input is refused before any parsing is spent on it.
MAX_ADDRESS_CHARS = 254
_LEFT = (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED)


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
    throttle: SubscribeThrottle
    clock: Clock

    @classmethod
    def build(cls, app: AppConfig, store: Store, renderer: Renderer, clock: Clock) -> WebContext:
        """Raises ValueError when ``web.base_url`` is not a plain http(s) URL."""
        redis_url = app.redis.url.get_secret_value() if app.redis else None
        throttle = SubscribeThrottle.for_redis(redis_url)
        return cls(app, store, renderer, Links(app.web), throttle, clock)

    @property
    def lists(self) -> Mapping[str, EmailChannelConfig]:
        return lists_of(self.app)


class _Pages:
    def __init__(self, context: WebContext) -> None:
        self.context = context
        self.subscribers = Subscribers(context.store)

    # -- rendering --------------------------------------------------------------------------

    def words(
        self, channel: EmailChannelConfig | None, reader: Subscriber | None = None
    ) -> tuple[str, dict[str, str]]:
        list_language = channel.language if channel is not None else "en"
        language = wording.language_of(reader.language if reader else None, list_language)
        title = (channel.list_title or channel.list_name) if channel else "Newsletter"
        values = {"list": title, "address": reader.address if reader else ""}
        return language, wording.words(language, self.context.app.labels, **values)

    def page(
        self,
        template: str,
        status: int = 200,
        *,
        channel: EmailChannelConfig | None = None,
        reader: Subscriber | None = None,
        **values: Any,
    ) -> HTMLResponse:
        language, t = self.words(channel, reader)
        values.setdefault("list_title", (channel.list_title or channel.list_name) if channel
                          else "Newsletter")  # fmt: skip
        body = self.context.renderer.render(
            f"email/{template}", {"lang": language, "t": t, **values}
        )
        return HTMLResponse(body, status_code=status)

    def done(
        self,
        key: str,
        status: int = 200,
        *,
        channel: EmailChannelConfig | None = None,
        reader: Subscriber | None = None,
        address: str | None = None,
        link: str | None = None,
    ) -> HTMLResponse:
        """An outcome page: the wording's ``<key>_heading`` and ``<key>``."""
        _language, t = self.words(channel, reader)
        text = t[key]
        if address is not None:
            text = text.replace("{address}", address)  # the typed address (no reader row)
        link_value = None
        if link is not None and channel is not None:
            link_value = {"url": self._subscribe_path(channel), "label": t[link]}
        return self.page(
            "done.html.j2",
            status,
            channel=channel,
            reader=reader,
            heading=t[f"{key}_heading"],
            message=text,
            link=link_value,
        )

    def invalid(self, purpose: Purpose, why: str) -> HTMLResponse:
        log.warning("refused a %s link: %s", purpose, why)
        return self.done("invalid", status=403)

    # -- subscribe --------------------------------------------------------------------------

    async def index(self, request: Request) -> HTMLResponse:
        lists = self.context.lists
        if len(lists) == 1:
            return await self.subscribe_form(request, next(iter(lists)))
        return self.page(
            "done.html.j2",
            heading="Newsletters",
            message=f"Lists: {', '.join(sorted(lists)) or 'none'}. Open /subscribe/<list>.",
            link=None,
        )

    async def subscribe_form(self, request: Request, name: str | None = None) -> HTMLResponse:
        channel = self._list(name or request.path_params["list"])
        if channel is None:
            return self.done("no_list", status=404)
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
            channel=channel,
            action=self._subscribe_path(channel),
            topics=list(channel.topics),
            chosen=list(chosen),
            address=address,
            error=error,
        )

    async def subscribe(self, request: Request) -> HTMLResponse:
        channel = self._list(request.path_params["list"])
        if channel is None:
            return self.done("no_list", status=404)
        form = await request.form(max_files=0, max_fields=64)
        typed = str(form.get("email") or "")
        offered = set(channel.topics)
        chosen = tuple(
            t for t in normalise_topics(str(v) for v in form.getlist("topics")) if t in offered
        )
        if len(typed.strip()) > MAX_ADDRESS_CHARS:
            error = f"an email address has at most {MAX_ADDRESS_CHARS} characters"
            return self._form(channel, chosen=chosen, error=error)
        try:
            # email-validator's parsing is CPU work: off the event loop, which serves everyone.
            address = await asyncio.to_thread(addresses.normalise, typed)
        except addresses.InvalidAddress as exc:
            return self._form(channel, address=typed, chosen=chosen, error=str(exc))
        limits = channel.subscribe_limits
        throttle = self.context.throttle
        client = self._client(request, channel)
        if not await throttle.client_allowed(channel.list_name, limits, client):
            return self.done("too_many", status=429, channel=channel)

        async def mail_allowed() -> bool:
            return await throttle.mail_allowed(channel.list_name, limits, address)

        await optin.request(
            self.context.store,
            channel.list_name,
            address,
            chosen,
            interval=timedelta(minutes=limits.recipient_interval_minutes),
            mail_allowed=mail_allowed,
        )
        # The same answer whatever the address's state and whether an email was queued.
        return self.done("check_inbox", status=200, channel=channel, address=address)

    # -- confirm ----------------------------------------------------------------------------

    async def confirm_page(self, request: Request) -> HTMLResponse:
        found = await self._reader(request, "confirm")
        if isinstance(found, HTMLResponse):
            return found
        channel, reader = found
        return self.page(
            "confirm_page.html.j2",
            channel=channel,
            reader=reader,
            action=request.url.path,
            address=reader.address,
        )

    async def confirm(self, request: Request) -> HTMLResponse:
        found = await self._reader(request, "confirm")
        if isinstance(found, HTMLResponse):
            return found
        channel, reader = found
        assert reader.confirm_nonce is not None
        confirmed = await optin.confirm(
            self.context.store, reader.id, reader.confirm_nonce, welcome=channel.welcome_email
        )
        if not confirmed:
            return self.invalid("confirm", f"reader {reader.id}'s request changed meanwhile")
        return self.done("confirmed", status=200, channel=channel, reader=reader)

    # -- preferences and unsubscribe --------------------------------------------------------

    async def unsubscribe_page(self, request: Request) -> HTMLResponse:
        found = await self._reader(request, "unsubscribe")
        if isinstance(found, HTMLResponse):
            return found
        channel, reader = found
        if reader.status in _LEFT:
            return self.done("unsubscribed", status=200, channel=channel, reader=reader)
        return self._preferences(request, channel, reader)

    def _preferences(
        self,
        request: Request,
        channel: EmailChannelConfig,
        reader: Subscriber,
        saved: bool = False,
    ) -> HTMLResponse:
        token = str(request.path_params["token"])
        return self.page(
            "unsubscribe.html.j2",
            channel=channel,
            reader=reader,
            action=self._path(request, f"/unsubscribe/{token}"),
            preferences_action=self._path(request, f"/preferences/{token}"),
            address=reader.address,
            topics=list(channel.topics),
            chosen=from_column(reader.topics),
            languages=[(code, wording.LANGUAGE_NAMES[code]) for code in wording.LANGUAGES],
            language=wording.language_of(reader.language, channel.language),
            saved=saved,
        )

    async def unsubscribe(self, request: Request) -> HTMLResponse:
        # RFC 8058: the body is "List-Unsubscribe=One-Click"; the token alone decides.
        found = await self._reader(request, "unsubscribe")
        if isinstance(found, HTMLResponse):
            return found
        channel, reader = found
        await self.subscribers.unsubscribe(reader.id)
        return self.done("unsubscribed", status=200, channel=channel, reader=reader)

    async def preferences(self, request: Request) -> HTMLResponse:
        found = await self._reader(request, "unsubscribe")
        if isinstance(found, HTMLResponse):
            return found
        channel, reader = found
        form = await request.form(max_files=0, max_fields=64)
        if form.get("action") == "leave_all":
            await self.subscribers.unsubscribe_everywhere(reader.address)
            return self.done("left_all", status=200, channel=channel, reader=reader)
        if reader.status in _LEFT:
            return self.done("unsubscribed", status=200, channel=channel, reader=reader)
        offered = set(channel.topics)
        chosen = [t for t in normalise_topics(str(v) for v in form.getlist("topics"))
                  if t in offered]  # fmt: skip
        wanted = str(form.get("language") or "")
        language = wanted if wanted in wording.LANGUAGES else None
        await self.subscribers.set_preferences(reader.id, chosen, language)
        reader = await self.subscribers.get(reader.id) or reader
        return self._preferences(request, channel, reader, saved=True)

    # -- helpers ----------------------------------------------------------------------------

    def _subscribe_path(self, channel: EmailChannelConfig) -> str:
        # The path of web.base_url included: the service may sit behind a proxy at a sub-path.
        return urlsplit(self.context.links.subscribe(channel.list_name)).path

    def _path(self, _request: Request, tail: str) -> str:
        return urlsplit(self.context.links.base_url).path.rstrip("/") + tail

    def _list(self, name: str) -> EmailChannelConfig | None:
        return self.context.lists.get(name)

    @staticmethod
    def _client(request: Request, channel: EmailChannelConfig) -> str:
        """Who is asking: the connection's address, or the proxy's header when configured."""
        header = channel.subscribe_limits.client_address_header
        if header is not None:
            # The last entry is the one our own proxy added; earlier ones the client wrote.
            forwarded = request.headers.get(header, "").rsplit(",", 1)[-1].strip()
            if forwarded:
                return forwarded[:64]
        return request.client.host if request.client is not None else "unknown"

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
        if not signer.verify(claims, reader.address, reader.confirm_nonce):
            return self.invalid(purpose, f"the token of reader {reader.id} does not verify")
        channel = self._list(claims.list_name)
        if channel is None:
            return self.done("no_list", status=404)
        if purpose == "confirm" and self._expired(claims, channel):
            return self.done("expired", status=410, channel=channel, reader=reader,
                             link="subscribe_again")  # fmt: skip
        return channel, reader

    def _expired(self, claims: Claims, channel: EmailChannelConfig) -> bool:
        assert claims.issued is not None
        return self.context.clock() - claims.issued > timedelta(days=channel.confirm_expiry_days)


def routes(web: CoreWebContext) -> list[BaseRoute]:
    """The readers' pages, mounted by the core web service (``distributor web``)."""
    context = WebContext.build(web.app, web.store, web.renderer, web.clock)
    pages = _Pages(context)
    return [
        Route("/", pages.index, methods=["GET"]),
        Route("/subscribe/{list}", pages.subscribe_form, methods=["GET"]),
        Route("/subscribe/{list}", pages.subscribe, methods=["POST"]),
        Route("/confirm/{token}", pages.confirm_page, methods=["GET"]),
        Route("/confirm/{token}", pages.confirm, methods=["POST"]),
        Route("/unsubscribe/{token}", pages.unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe/{token}", pages.unsubscribe, methods=["POST"]),
        Route("/preferences/{token}", pages.preferences, methods=["POST"]),
        *ses_routes(context),
        *mailgun_routes(context),
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


def mailgun_routes(context: WebContext) -> list[BaseRoute]:
    """``POST /bounces/mailgun`` when a list accepts Mailgun's webhooks.

    Answers: 200 when acted on or ignored (an event we do not act on, or no reader of ours);
    400 for a body that is no Mailgun webhook; 403 when the signature or its timestamp does not
    verify (Mailgun retries: a key changed at Mailgun and then in the configuration loses
    nothing); 406 for a token already accepted (Mailgun stops: it was acted on); 500 when the
    store failed (Mailgun retries, and the token is forgotten so the retry is accepted).
    """
    from distributor.desk.throttle import counters_for
    from distributor.logs import install_redaction
    from distributor_channels.email import mailgun
    from distributor_channels.email.bounce_reader import BounceHandler

    configs = {
        name: c.bounces.mailgun
        for name, c in context.lists.items()
        if c.bounces is not None and c.bounces.mailgun is not None
    }
    if not configs:
        return []
    keys: dict[str, frozenset[str]] = {}
    for name, config in configs.items():
        key = config.signing_key.get_secret_value()
        keys[key] = keys.get(key, frozenset()) | {name}
    install_redaction(list(keys))
    max_age = min(config.max_age_seconds for config in configs.values())
    redis = context.app.redis.url.get_secret_value() if context.app.redis else None
    database = context.store.engine.url.render_as_string(hide_password=True)
    counters = counters_for(redis, database, context.clock)
    replays = mailgun.Replays(counters.window("mailgun-tokens", 1, 2 * max_age))
    handler = BounceHandler(context.app, context.store, "mailgun")

    async def webhook(request: Request) -> PlainTextResponse:
        try:
            hook = mailgun.parse(await request.body())
            lists = mailgun.signed_by(hook, keys)
            if not lists:
                raise mailgun.Refused("the signature does not verify", 403)
            mailgun.check_age(hook, context.clock(), max_age)
            if not await replays.claim(hook.token):
                raise mailgun.Refused("the token was accepted before (a replay)", 406)
        except ValueError as exc:
            return PlainTextResponse(f"not a Mailgun webhook: {exc}", status_code=400)
        except mailgun.Refused as exc:
            log.warning("Mailgun webhook refused: %s", exc)
            return PlainTextResponse("refused", status_code=exc.status)
        found = mailgun.notices(hook, handler.tokens)
        if not found:
            log.debug("Mailgun %s event: nothing to act on", hook.name)
        try:
            for notice in found:
                if notice.tag is not None and notice.tag.list_name not in lists:
                    log.warning("Mailgun webhook names list %r, whose key did not sign it",
                                notice.tag.list_name)  # fmt: skip
                    continue
                await handler.suppressor.apply(notice)
        except Exception:  # the store is down, or a bug: Mailgun retries, the retry must pass
            log.exception("a Mailgun %s event could not be handled", hook.name)
            await replays.forget(hook.token)
            return PlainTextResponse("not handled; retry later", status_code=500)
        return PlainTextResponse("ok")

    return [Route("/bounces/mailgun", webhook, methods=["POST"])]
