"""The editors' desk, ``/desk/``: server-rendered pages over the same actions as the API.

Every page needs a session (``sessions``); every POST needs the session's CSRF token; the
channel and audit pages need an admin. Pages are Jinja2 templates under ``templates/desk/``
with one small script and one stylesheet shipped beside them (no CDN, nothing to build).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from distributor import resources
from distributor.config import CORRECTION_NOTICES
from distributor.desk import audit, drawing, i18n
from distributor.desk.accounts import Accounts
from distributor.desk.models import User
from distributor.desk.newsroom import (
    ActionError,
    Actor,
    Drafted,
    Invalid,
    Newsroom,
    NotFound,
    badge,
    with_changes,
)
from distributor.desk.sessions import COOKIE, Session, Sessions, fingerprint
from distributor.desk.throttle import Counters
from distributor.desk.views import calendar_days, channel_rows, timeline
from distributor.web import WebContext, base_path

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; "
    "connect-src 'self'; base-uri 'none'"
)
STATIC = {"desk.css": "text/css", "desk.js": "text/javascript"}
# Failed logins: per account, and per client address (many accounts tried from one place).
ACCOUNT_FAILURES, CLIENT_FAILURES, FAILURE_WINDOW = 5, 20, 15 * 60.0
IN_FLIGHT = {"waiting", "retrying", "sending", "editing", "deleting"}
STORY_FIELDS = (
    "title", "body", "format", "url", "standfirst", "tags", "language", "priority", "image",
    "publish_at", "follow_up_of",
)  # fmt: skip

Page = Callable[[Request, "Visit"], Awaitable[Response]]


@dataclasses.dataclass
class Visit:
    """Who is asking, in which language, with which session."""

    session: Session
    user: User | None
    t: Callable[..., str]
    form: FormData | None = None

    @property
    def actor(self) -> Actor:
        assert self.user is not None
        return Actor(f"user:{self.user.name}", self.user.role)


class Desk:
    def __init__(self, context: WebContext, counters: Counters) -> None:
        self.context = context
        self.app = context.app
        self.store = context.store
        self.newsroom = Newsroom(context)
        self.accounts = Accounts(context.store)
        self.prefix = base_path(context)
        web = context.app.web
        self.sessions = Sessions(
            web.secret.get_secret_value(),
            timedelta(minutes=web.session_idle_minutes),
            context.clock,
            secure=urlsplit(web.base_url).scheme == "https",
        )
        self.account_failures = counters.window("login-account", ACCOUNT_FAILURES, FAILURE_WINDOW)
        self.client_failures = counters.window("login-client", CLIENT_FAILURES, FAILURE_WINDOW)
        folder = resources.templates_dir() / "desk"
        self.static = folder / "static"
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # -- plumbing ---------------------------------------------------------------------------

    def url(self, path: str, **query: object) -> str:
        shown = {k: v for k, v in query.items() if v not in (None, "")}
        return self.prefix + path + (("?" + urlencode(shown)) if shown else "")

    def render(self, template: str, visit: Visit, code: int = 200, **values: Any) -> Response:
        language = visit.user.language if visit.user else "en"
        body = self.env.get_template(template).render(
            t=visit.t,
            u=self.url,
            user=visit.user,
            csrf=visit.session.csrf,
            lang=language,
            zone=self.app.timezone,
            local=lambda when: when.astimezone(self.app.zone).strftime("%Y-%m-%d %H:%M"),
            **values,
        )
        return self.finish(HTMLResponse(body, status_code=code), visit.session)

    def finish(self, response: Response, session: Session) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.set_cookie(
            COOKIE,
            self.sessions.dump(session),
            **self.sessions.cookie_options(self.prefix + "/"),  # type: ignore[arg-type]
        )
        return response

    def redirect(self, path: str, session: Session, **query: object) -> Response:
        return self.finish(RedirectResponse(self.url(path, **query), status_code=303), session)

    async def visit(self, request: Request) -> Visit:
        session = self.sessions.read(request.cookies.get(COOKIE)) or self.sessions.fresh()
        user = None
        if not session.anonymous:
            assert session.user_id is not None
            user = await self.accounts.user_by_id(session.user_id)
            if user is None or user.disabled or fingerprint(user.password_hash) != session.password:
                user, session = None, self.sessions.fresh()
        language = (
            user.language if user else i18n.from_header(request.headers.get("accept-language", ""))
        )
        return Visit(session, user, i18n.translator(language))

    def guard(self, page: Page, *, admin: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """``page`` for a logged-in user (an admin if ``admin``), forms checked for CSRF."""

        async def guarded(request: Request) -> Response:
            visit = await self.visit(request)
            if visit.user is None:
                if request.method != "GET":
                    return self.render(
                        "message.html.j2", visit, 401, message=visit.t("session_ended")
                    )
                return self.redirect("/desk/login", visit.session, next=request.url.path)
            if request.method == "POST":
                try:
                    visit.form = await request.form(max_files=1, max_fields=40)
                except HTTPException as exc:
                    return self.render(
                        "message.html.j2", visit, exc.status_code, message=exc.detail
                    )
                sent = visit.form.get("csrf")
                if not visit.session.csrf_ok(sent if isinstance(sent, str) else None):
                    return self.render("message.html.j2", visit, 403, message=visit.t("csrf"))
            if admin and not visit.actor.is_admin:
                return self.render("message.html.j2", visit, 403, message=visit.t("forbidden"))
            try:
                return await page(request, visit)
            except ActionError as exc:
                return self.render("message.html.j2", visit, exc.status, message=exc.message)

        return guarded

    @staticmethod
    def field(visit: Visit, name: str) -> str:
        value = visit.form.get(name) if visit.form is not None else None
        return value.strip() if isinstance(value, str) else ""

    @staticmethod
    def story_id(request: Request) -> int:
        raw = str(request.path_params["id"])
        if not raw.isdecimal() or not 1 <= int(raw) < 2**31:
            raise ActionError("no such story")
        return int(raw)

    # -- login ------------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        visit = await self.visit(request)
        if visit.user is not None:
            return self.redirect("/desk/", visit.session)
        return self.render("login.html.j2", visit, next=request.query_params.get("next", ""))

    async def login(self, request: Request) -> Response:
        visit = await self.visit(request)
        try:
            visit.form = await request.form(max_files=0, max_fields=10)
        except HTTPException as exc:
            return self.render("message.html.j2", visit, exc.status_code, message=exc.detail)
        name, password = self.field(visit, "name"), self.field(visit, "password")
        target = self.field(visit, "next")
        if not target.startswith(self.prefix + "/desk/") or "//" in target:
            target = ""

        def again(status: int, error: str) -> Response:
            return self.render("login.html.j2", visit, status, error=error, name=name, next=target)

        if not visit.session.csrf_ok(self.field(visit, "csrf")):
            return again(403, visit.t("csrf"))
        client = request.client.host if request.client else "unknown"
        keys = (f"account:{name.lower()[:64]}", f"client:{client}")
        wait = max(
            await self.account_failures.retry_after(keys[0]),
            await self.client_failures.retry_after(keys[1]),
        )
        if wait:
            return again(429, visit.t("throttled", minutes=max(1, -(-wait // 60))))
        user = await self.accounts.authenticate(name, password)
        if user is None:
            await self.account_failures.hit(keys[0])
            await self.client_failures.hit(keys[1])
            return again(401, visit.t("login_failed"))
        await self.account_failures.reset(keys[0])
        await audit.record(self.store, f"user:{user.name}", "login")
        session = self.sessions.login(user.id, user.password_hash)
        if target:
            return self.finish(RedirectResponse(target, status_code=303), session)
        return self.redirect("/desk/", session)

    async def logout(self, request: Request, visit: Visit) -> Response:
        return self.redirect("/desk/login", self.sessions.fresh())

    async def language(self, request: Request, visit: Visit) -> Response:
        assert visit.user is not None
        choice = self.field(visit, "language")
        if choice in i18n.WORDS:
            await self.accounts.set_language(visit.user.name, choice)
        return self.redirect("/desk/", visit.session)

    async def static_file(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        if name not in STATIC:
            return Response("not found", status_code=404, media_type="text/plain")
        body = (self.static / name).read_bytes()
        return Response(body, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    # -- stories ----------------------------------------------------------------------------

    async def stories(self, request: Request, visit: Visit) -> Response:
        params = request.query_params
        before = params.get("before", "")
        status = params.get("status", "")
        query = params.get("q", "")[:200]
        views, more = await self.newsroom.search(
            query=query or None,
            status=status if status in ("queued", "routed", "retracted", "attention") else None,
            before=int(before) if before.isdecimal() and len(before) < 10 else None,
        )
        channels = self.newsroom.story_channels()
        rows = [{"view": v, "badges": [(c, badge(v, c)) for c in channels]} for v in views]
        live = any(b in IN_FLIGHT for v in views for b in (badge(v, c) for c in channels))
        template = "_rows.html.j2" if params.get("partial") else "stories.html.j2"
        return self.render(
            template, visit, rows=rows, channels=channels, live=live, more=more,
            q=query, filter=status, flash=params.get("flash", ""),
        )  # fmt: skip

    def form_values(self, visit: Visit) -> dict[str, str]:
        return {name: self.field(visit, name) for name in STORY_FIELDS}

    async def compose(self, visit: Visit, values: dict[str, str]) -> Drafted:
        """The story the form describes, from its text, its file or its URL."""
        source = self.field(visit, "source") or "text"
        fields: dict[str, Any] = {k: v for k, v in values.items() if v}
        if "priority" in fields:
            try:
                fields["priority"] = int(fields["priority"])
            except ValueError:
                raise Invalid("priority", [("priority", "a whole number, like 0 or 10")]) from None
        if source == "text":
            return await self.newsroom.draft(fields)
        if source == "file":
            upload = visit.form.get("file") if visit.form is not None else None
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise Invalid("file", [("file", "choose a file")])
            drafted = await self.newsroom.draft_from_file(upload.filename, await upload.read())
        else:
            drafted = await self.newsroom.draft_from_url(self.field(visit, "article_url"))
        follow_up_of = await self.newsroom.follow_up(fields.get("follow_up_of"))
        return with_changes(drafted, follow_up_of=follow_up_of) if follow_up_of else drafted

    def previews(self, visit: Visit, drafted: Drafted) -> list[dict[str, Any]]:
        shown = []
        for item in self.newsroom.preview(drafted.draft):
            drawn = drawing.draw(item.post) if item.post else None
            shown.append({"item": item, "drawn": drawn})
        return shown

    def filled(self, drafted: Drafted) -> dict[str, str]:
        """Form values holding ``drafted``: a file or a page becomes text the editor can edit."""
        draft = drafted.draft
        return {
            "title": draft.title,
            "body": draft.body,
            "format": draft.body_format,
            "url": draft.url or "",
            "standfirst": draft.standfirst or "",
            "tags": ", ".join(draft.tags),
            "language": "" if drafted.language_detected else draft.language,
            "priority": str(draft.priority),
            "image": draft.image or "",
            "publish_at": "",
            "follow_up_of": "",
        }

    async def new_form(self, request: Request, visit: Visit) -> Response:
        values = dict.fromkeys(STORY_FIELDS, "")
        values["follow_up_of"] = request.query_params.get("follow_up_of", "")[:10]
        return self.render("new.html.j2", visit, values=values, source="text", errors={})

    async def new_story(self, request: Request, visit: Visit) -> Response:
        values = self.form_values(visit)
        source = self.field(visit, "source") or "text"
        try:
            drafted = await self.compose(visit, values)
        except Invalid as exc:
            errors = {f: m for f, m in exc.fields}
            return self.render(
                "new.html.j2", visit, 422, values=values, source=source, errors=errors,
                article_url=self.field(visit, "article_url"),
            )  # fmt: skip
        if self.field(visit, "action") == "queue":
            story_id, created = await self.newsroom.create(visit.actor, drafted)
            return self.redirect(
                f"/desk/stories/{story_id}", visit.session, new="1" if created else "0"
            )
        if source != "text":
            kept = {
                k: v
                for k, v in values.items()
                if v and k in ("tags", "priority", "publish_at", "follow_up_of")
            }
            values = {**self.filled(drafted), **kept}
            source = "text"
        return self.render(
            "new.html.j2", visit, values=values, source=source, errors={},
            previews=self.previews(visit, drafted), drafted=drafted,
        )  # fmt: skip

    async def story(self, request: Request, visit: Visit) -> Response:
        story_id = self.story_id(request)
        view = await self.newsroom.view(story_id)
        entries = await audit.entries(self.store, article_id=story_id, limit=200)
        channels = self.newsroom.story_channels()
        return self.render(
            "story.html.j2", visit, view=view,
            timeline=timeline(view, entries, self.newsroom.post_url),
            badges=[(c, badge(view, c)) for c in channels],
            flash=request.query_params.get("flash", ""), new=request.query_params.get("new"),
        )  # fmt: skip

    async def action(self, request: Request, visit: Visit) -> Response:
        story_id = self.story_id(request)
        verb = str(request.path_params["verb"])
        actor = visit.actor
        if verb == "retry":
            count = await self.newsroom.retry(actor, story_id)
            message = f"{count} ↻"
        elif verb == "cancel":
            await self.newsroom.cancel(actor, story_id)
            message = visit.t("badge_cancelled")
        elif verb == "reschedule":
            changed = await self.newsroom.reschedule(
                actor, story_id, self.field(visit, "publish_at")
            )
            message = "; ".join(changed) or "–"
        elif verb == "retract":
            count = await self.newsroom.retract(actor, story_id)
            message = f"{visit.t('retracted')} ({count})"
        else:
            raise ActionError("no such action")
        return self.redirect(f"/desk/stories/{story_id}", visit.session, flash=message)

    async def retract_page(self, request: Request, visit: Visit) -> Response:
        view = await self.newsroom.view(self.story_id(request))
        return self.render("confirm.html.j2", visit, view=view)

    async def correct_form(self, request: Request, visit: Visit) -> Response:
        view = await self.newsroom.view(self.story_id(request))
        a = view.article
        values = {
            "title": a.title, "body": a.body, "format": a.body_format, "url": a.url or "",
            "standfirst": a.standfirst or "", "tags": ", ".join(a.tags), "language": a.language,
            "priority": str(a.priority), "image": a.image or "", "publish_at": "",
        }  # fmt: skip
        notice = self.app.corrections.notice
        return self.render(
            "correct.html.j2", visit, view=view, values=values, errors={}, notice=notice
        )

    async def correct(self, request: Request, visit: Visit) -> Response:
        story_id = self.story_id(request)
        view = await self.newsroom.view(story_id)
        values = self.form_values(visit)
        # The notice is the correction's, not the story's: kept apart from its fields.
        notice = self.field(visit, "notice") or self.app.corrections.notice
        try:
            if notice not in CORRECTION_NOTICES:
                raise Invalid("notice", [("notice", visit.t("notice_invalid"))])
            drafted = await self.compose(visit, values)
        except Invalid as exc:
            errors = {f: m for f, m in exc.fields}
            return self.render(
                "correct.html.j2", visit, 422, view=view, values=values, errors=errors,
                notice=notice,
            )  # fmt: skip
        if self.field(visit, "action") == "save":
            edits = await self.newsroom.correct(visit.actor, story_id, drafted, notice)
            return self.redirect(
                f"/desk/stories/{story_id}",
                visit.session,
                flash=f"v{view.article.version + 1} ({edits})",
            )
        return self.render(
            "correct.html.j2", visit, view=view, values=values, errors={}, notice=notice,
            previews=self.previews(visit, drafted), drafted=drafted,
        )  # fmt: skip

    # -- calendar, channels, audit ----------------------------------------------------------

    async def calendar(self, request: Request, visit: Visit) -> Response:
        days = await calendar_days(self.newsroom, self.store.clock())
        return self.render("calendar.html.j2", visit, days=days)

    async def channels(self, request: Request, visit: Visit) -> Response:
        rows = await channel_rows(self.newsroom)
        return self.render(
            "channels.html.j2", visit, rows=rows, flash=request.query_params.get("flash", "")
        )

    async def channel_action(self, request: Request, visit: Visit) -> Response:
        name, verb = str(request.path_params["name"]), str(request.path_params["verb"])
        if verb not in ("pause", "resume"):
            raise NotFound("no such action")
        if verb == "pause":
            await self.newsroom.pause(visit.actor, name, self.field(visit, "reason"))
            flash = f"{name}: {visit.t('paused')}"
        else:
            await self.newsroom.resume(visit.actor, name)
            flash = f"{name}: {visit.t('live')}"
        return self.redirect("/desk/channels", visit.session, flash=flash)

    async def audit_page(self, request: Request, visit: Visit) -> Response:
        before = request.query_params.get("before", "")
        entries = await audit.entries(
            self.store, before=int(before) if before.isdecimal() and len(before) < 10 else None
        )
        more = entries[-1].id if len(entries) == 100 else None
        return self.render("audit.html.j2", visit, entries=entries, more=more)

    async def audit_csv(self, request: Request, visit: Visit) -> Response:
        entries = await audit.entries(self.store, limit=100_000)
        response = Response(
            audit.to_csv(entries),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
        )
        return self.finish(response, visit.session)


def routes(context: WebContext, counters: Counters) -> list[BaseRoute]:
    desk = Desk(context, counters)
    g = desk.guard
    return [
        Route("/desk/login", desk.login_page, methods=["GET"]),
        Route("/desk/login", desk.login, methods=["POST"]),
        Route("/desk/logout", g(desk.logout), methods=["POST"]),
        Route("/desk/language", g(desk.language), methods=["POST"]),
        Route("/desk/static/{name}", desk.static_file, methods=["GET"]),
        Route("/desk/", g(desk.stories), methods=["GET"]),
        Route("/desk/new", g(desk.new_form), methods=["GET"]),
        Route("/desk/new", g(desk.new_story), methods=["POST"]),
        Route("/desk/stories/{id}", g(desk.story), methods=["GET"]),
        Route("/desk/stories/{id}/retract", g(desk.retract_page), methods=["GET"]),
        Route("/desk/stories/{id}/correct", g(desk.correct_form), methods=["GET"]),
        Route("/desk/stories/{id}/correct", g(desk.correct), methods=["POST"]),
        Route("/desk/stories/{id}/{verb}", g(desk.action), methods=["POST"]),
        Route("/desk/calendar", g(desk.calendar), methods=["GET"]),
        Route("/desk/channels", g(desk.channels, admin=True), methods=["GET"]),
        Route("/desk/channels/{name}/{verb}", g(desk.channel_action, admin=True), methods=["POST"]),
        Route("/desk/audit", g(desk.audit_page, admin=True), methods=["GET"]),
        Route("/desk/audit.csv", g(desk.audit_csv, admin=True), methods=["GET"]),
    ]
