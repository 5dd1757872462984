"""The CMS API, ``/api/v1/``: JSON in and out, Bearer tokens, RFC 9457 problems naming the field.

Each endpoint is declared once in ``ENDPOINTS`` with its request and response models; the
Starlette routes and the OpenAPI 3.1 document (``/api/v1/openapi.json``) are both built from
that table, and the same models validate the requests: the document cannot drift from the code.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import update
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from distributor.desk import schemas, wording
from distributor.desk.accounts import Accounts
from distributor.desk.models import ApiToken
from distributor.desk.newsroom import (
    ActionError,
    Actor,
    Drafted,
    Invalid,
    Newsroom,
    StoryView,
    badge,
)
from distributor.desk.throttle import Counters
from distributor.web import WebContext

PREFIX = "/api/v1"
PROBLEM = "application/problem+json"
MAX_ID = 2**31 - 1
# last_used_at is written at most this often per token: not one write per call.
LAST_USED_EVERY = timedelta(minutes=1)

Handler = Callable[["Api", Request, Actor], Awaitable[Response]]


class _Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.fields: list[tuple[str, str]] = extra.pop("fields", [])
        self.headers: dict[str, str] = extra.pop("headers", {})


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    408: "Request timeout",
    413: "Too large",
    422: "Invalid request",
    429: "Too many requests",
}


def problem(
    status: int,
    detail: str,
    fields: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = schemas.Problem(
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        errors=[schemas.FieldError(field=f, message=m) for f, m in fields or []],
    )
    return Response(body.model_dump_json(), status_code=status, media_type=PROBLEM, headers=headers)


def _json(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        model.model_dump_json(), status_code=status, media_type="application/json", headers=headers
    )


def parse_body(model: type[schemas.Model], raw: bytes, optional: bool = False) -> Any:
    if optional and not raw.strip():
        return model()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        issues = exc.errors(include_url=False)
        if any(e["type"] == "json_invalid" for e in issues):
            raise _Problem(400, "Bad request", "the body is not valid JSON") from None
        fields = wording.problems(issues)
        detail = "; ".join(f"{f}: {m}" for f, m in fields)
        raise _Problem(422, "Invalid request", detail, fields=fields) from None


def story_out(
    view: StoryView, channels: list[str], link: Callable[[str, Any], str | None]
) -> schemas.StoryOut:
    article = view.article
    deliveries = []
    for name in channels:
        d = view.deliveries.get(name)
        deliveries.append(
            schemas.DeliveryOut(
                channel=name,
                state=badge(view, name),
                status=str(d.status) if d else None,
                operation=str(d.operation) if d else None,
                attempts=d.attempts if d else 0,
                version=d.version if d else 0,
                sent_at=d.sent_at if d else None,
                next_attempt_at=d.next_attempt_at if d else None,
                last_error=d.last_error if d else None,
                excluded_by=view.held.get(name),
                posts=[
                    schemas.PostLink(
                        target=str(r["target"]), message_id=str(r["message_id"]), url=link(name, r)
                    )
                    for r in (d.refs if d else [])
                ],
            )
        )
    return schemas.StoryOut(
        id=article.id,
        external_id=article.external_id,
        title=article.title,
        standfirst=article.standfirst,
        url=article.url,
        image=article.image,
        language=article.language,
        tags=list(article.tags),
        priority=article.priority,
        status=str(article.status),
        version=article.version,
        publish_at=article.publish_at,
        created_at=article.created_at,
        updated_at=article.updated_at,
        deliveries=deliveries,
    )


def _story_id(request: Request) -> int:
    raw = str(request.path_params["id"])
    if not raw.isdecimal() or not 1 <= int(raw) <= MAX_ID:
        raise _Problem(404, "Not found", f"no story with id {raw[:40]!r}")
    return int(raw)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[schemas.Model] | None = None
    body_optional: bool = False
    ok: dict[int, type[BaseModel]] = field(default_factory=dict)
    query: tuple[dict[str, Any], ...] = ()
    changes: bool = True

    @property
    def operation_id(self) -> str:
        return self.handler.__name__.strip("_")


class Api:
    """The endpoints, bound to one web service."""

    def __init__(self, context: WebContext, counters: Counters) -> None:
        self.newsroom = Newsroom(context)
        self.accounts = Accounts(context.store)
        self.store = context.store
        self.limits = counters.window("api", context.app.web.api_requests_per_minute, 60.0)
        self._used: dict[int, Any] = {}

    def channels(self) -> list[str]:
        return self.newsroom.story_channels()

    async def authenticate(self, request: Request) -> Actor:
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="distributor"'}
        if scheme.lower() != "bearer" or not secret.strip():
            raise _Problem(
                401, "Unauthorized", "send Authorization: Bearer TOKEN", headers=challenge
            )
        token = await self.accounts.token(secret.strip())
        if token is None:
            raise _Problem(401, "Unauthorized", "unknown or revoked token", headers=challenge)
        wait = await self.limits.hit(f"token:{token.id}")
        if wait:
            raise _Problem(
                429,
                "Too many requests",
                f"this token's limit is {self.limits.limit} requests a minute",
                headers={"Retry-After": str(wait)},
            )
        await self._touch(token)
        return Actor(f"token:{token.name}", token.role)

    async def _touch(self, token: ApiToken) -> None:
        now = self.store.clock()
        last = self._used.get(token.id)
        if last is not None and now - last < LAST_USED_EVERY:
            return
        self._used[token.id] = now
        async with self.store.session() as session, session.begin():
            await session.execute(
                update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now)
            )

    async def drafted(self, story: schemas.StoryIn) -> Drafted:
        # Only the story's own keys: a correction's ``notice`` is not part of the story.
        fields = story.model_dump(exclude_none=True, include=set(schemas.StoryIn.model_fields))
        try:
            return await self.newsroom.draft(fields)
        except Invalid as exc:
            raise _Problem(422, "Invalid request", exc.message, fields=exc.fields) from None

    async def one(self, story_id: int) -> schemas.StoryOut:
        return story_out(
            await self.newsroom.view(story_id), self.channels(), self.newsroom.post_url
        )

    # -- endpoints --------------------------------------------------------------------------

    async def create_story(self, request: Request, actor: Actor) -> Response:
        story = parse_body(schemas.StoryIn, await request.body())
        drafted = await self.drafted(story)
        queued = await self.newsroom.add(actor, drafted)
        location = {"Location": f"{request.url.path}/{queued.article_id}"}
        if queued.article is None:  # queued before: show it as it stands now
            return _json(await self.one(queued.article_id), 200, location)
        # A new story has no deliveries until a worker routes it: no need to read any.
        view = self.newsroom.view_of(queued.article, {})
        return _json(story_out(view, self.channels(), self.newsroom.post_url), 201, location)

    async def list_stories(self, request: Request, actor: Actor) -> Response:
        params = request.query_params
        fields: list[tuple[str, str]] = []
        limit = 50
        raw_limit = params.get("limit")
        if raw_limit is not None:
            if raw_limit.isdecimal() and 1 <= int(raw_limit) <= 200:
                limit = int(raw_limit)
            else:
                fields.append(("limit", "a whole number from 1 to 200"))
        before = None
        cursor = params.get("cursor")
        if cursor:
            if cursor.isdecimal() and 1 <= int(cursor) <= MAX_ID:
                before = int(cursor)
            else:
                fields.append(("cursor", "not a cursor this API gave"))
        query = params.get("q")
        if query is not None and (len(query) > 200 or "\x00" in query):
            fields.append(("q", "at most 200 characters, no NUL"))
        if fields:
            raise _Problem(422, "Invalid request", fields[0][1], fields=fields)
        views, more = await self.newsroom.search(
            query=query or None, status=params.get("status") or None, before=before, limit=limit
        )
        page = schemas.StoryPage(
            items=[story_out(v, self.channels(), self.newsroom.post_url) for v in views],
            next_cursor=str(more) if more else None,
        )
        return _json(page)

    async def get_story(self, request: Request, actor: Actor) -> Response:
        return _json(await self.one(_story_id(request)))

    async def preview(self, request: Request, actor: Actor) -> Response:
        drafted = await self.drafted(parse_body(schemas.StoryIn, await request.body()))
        shown = []
        for item in self.newsroom.preview(drafted.draft):
            post = item.post
            shown.append(
                schemas.ChannelPreviewOut(
                    channel=item.channel,
                    platform=item.platform,
                    excluded_by=item.excluded_by,
                    error=item.error,
                    **(
                        {
                            "title": post.title,
                            "text": post.text,
                            "length": post.length,
                            "limit": post.limit,
                            "media_type": post.media_type,
                            "payload": post.payload.decode("utf-8", errors="replace"),
                        }
                        if post
                        else {}
                    ),
                )
            )
        return _json(
            schemas.PreviewOut(
                language=drafted.draft.language,
                language_detected=drafted.language_detected,
                channels=shown,
            )
        )

    async def _action(self, story_id: int, affected: int, message: str) -> Response:
        return _json(
            schemas.ActionOut(story=await self.one(story_id), affected=affected, message=message)
        )

    async def correct_story(self, request: Request, actor: Actor) -> Response:
        story_id = _story_id(request)
        correction = parse_body(schemas.CorrectionIn, await request.body())
        drafted = await self.drafted(correction)
        edits = await self.newsroom.correct(actor, story_id, drafted, correction.notice)
        return await self._action(story_id, edits, f"corrected; {edits} post(s) will be edited")

    async def retract_story(self, request: Request, actor: Actor) -> Response:
        story_id = _story_id(request)
        deletes = await self.newsroom.retract(actor, story_id)
        return await self._action(
            story_id, deletes, f"retracted; {deletes} post(s) will be deleted"
        )

    async def retry_story(self, request: Request, actor: Actor) -> Response:
        story_id = _story_id(request)
        body = parse_body(schemas.Retry, await request.body(), optional=True)
        count = await self.newsroom.retry(actor, story_id, body.channel)
        return await self._action(story_id, count, f"{count} delivery(ies) queued again")

    async def cancel_story(self, request: Request, actor: Actor) -> Response:
        story_id = _story_id(request)
        count = await self.newsroom.cancel(actor, story_id)
        return await self._action(story_id, count, "cancelled; nothing will go out")

    async def reschedule_story(self, request: Request, actor: Actor) -> Response:
        story_id = _story_id(request)
        body = parse_body(schemas.Reschedule, await request.body())
        changed = await self.newsroom.reschedule(actor, story_id, body.publish_at)
        return await self._action(story_id, len(changed), "; ".join(changed) or "no change")


_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
_LIST_PARAMS = (
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
    {"name": "cursor", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{1,10}$"}},
    {
        "name": "status",
        "in": "query",
        "schema": {"type": "string", "enum": ["queued", "routed", "retracted", "attention"]},
    },
    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}},
)

ENDPOINTS = (
    Endpoint(
        "POST",
        "/stories",
        Api.create_story,
        "Queue a story (idempotent: the same id or URL again returns the first story, 200)",
        body=schemas.StoryIn,
        ok={201: schemas.StoryOut, 200: schemas.StoryOut},
    ),
    Endpoint(
        "GET",
        "/stories",
        Api.list_stories,
        "Stories, newest first, with cursor paging and filters",
        ok={200: schemas.StoryPage},
        query=_LIST_PARAMS,
        changes=False,
    ),
    Endpoint(
        "GET",
        "/stories/{id}",
        Api.get_story,
        "One story with its deliveries per channel and where each post landed",
        ok={200: schemas.StoryOut},
        query=(_ID,),
        changes=False,
    ),
    Endpoint(
        "POST",
        "/preview",
        Api.preview,
        "Every channel's exact post for a story, or the filter that excludes it; no side effect",
        body=schemas.StoryIn,
        ok={200: schemas.PreviewOut},
        changes=False,
    ),
    Endpoint(
        "POST",
        "/stories/{id}/correct",
        Api.correct_story,
        "Store a new version; the posts already out are edited",
        body=schemas.CorrectionIn,
        ok={200: schemas.ActionOut},
        query=(_ID,),
    ),
    Endpoint(
        "POST",
        "/stories/{id}/retract",
        Api.retract_story,
        "Withdraw a story: posts are deleted where the platform allows",
        ok={200: schemas.ActionOut},
        query=(_ID,),
    ),
    Endpoint(
        "POST",
        "/stories/{id}/retry",
        Api.retry_story,
        "Queue failed and dead deliveries again",
        body=schemas.Retry,
        body_optional=True,
        ok={200: schemas.ActionOut},
        query=(_ID,),
    ),
    Endpoint(
        "POST",
        "/stories/{id}/cancel",
        Api.cancel_story,
        "Withdraw a story nothing has gone out for",
        ok={200: schemas.ActionOut},
        query=(_ID,),
    ),
    Endpoint(
        "POST",
        "/stories/{id}/reschedule",
        Api.reschedule_story,
        "Change the publish time of a story nothing has gone out for",
        body=schemas.Reschedule,
        ok={200: schemas.ActionOut},
        query=(_ID,),
    ),
)


def _route(api: Api, endpoint: Endpoint) -> Route:
    async def handle(request: Request) -> Response:
        try:
            actor = await api.authenticate(request)
            return await endpoint.handler(api, request, actor)
        except _Problem as exc:
            return problem(exc.status, exc.detail, exc.fields, exc.headers)
        except ActionError as exc:
            return problem(exc.status, exc.message, exc.fields)
        except HTTPException as exc:  # the body limit or deadline, raised while reading
            return problem(exc.status_code, exc.detail)

    return Route(
        PREFIX + endpoint.path, handle, methods=[endpoint.method], name=endpoint.operation_id
    )


def routes(context: WebContext, counters: Counters) -> list[BaseRoute]:
    api = Api(context, counters)
    document = json.dumps(openapi(context.app.web.base_url)).encode()

    async def spec(_request: Request) -> Response:
        return Response(document, media_type="application/json")

    return [
        Route(PREFIX + "/openapi.json", spec, methods=["GET"]),
        *(_route(api, e) for e in ENDPOINTS),
    ]


def openapi(base_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document, from ``ENDPOINTS`` and the pydantic models."""
    from pydantic.json_schema import models_json_schema

    requests = {e.body for e in ENDPOINTS if e.body is not None}
    responses = {m for e in ENDPOINTS for m in e.ok.values()} | {schemas.Problem}
    keyed = [(m, "validation") for m in sorted(requests, key=lambda m: m.__name__)] + [
        (m, "serialization") for m in sorted(responses, key=lambda m: m.__name__)
    ]
    refs, top = models_json_schema(keyed, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
    problem_ref = refs[(schemas.Problem, "serialization")]
    problem_content = {PROBLEM: {"schema": problem_ref}}
    paths: dict[str, dict[str, Any]] = {}
    for e in ENDPOINTS:
        answers: dict[str, Any] = {
            str(status): {
                "description": "OK" if status == 200 else "Created",
                "content": {"application/json": {"schema": refs[(model, "serialization")]}},
            }
            for status, model in e.ok.items()
        }
        for status in (400, 401, 404, 408, 409, 413, 422, 429):
            answers[str(status)] = {"description": _TITLES[status], "content": problem_content}
        operation: dict[str, Any] = {
            "operationId": e.operation_id,
            "summary": e.summary,
            "parameters": list(e.query),
            "responses": answers,
            "security": [{"bearer": []}],
        }
        if e.body is not None:
            operation["requestBody"] = {
                "required": not e.body_optional,
                "content": {"application/json": {"schema": refs[(e.body, "validation")]}},
            }
        paths.setdefault(PREFIX + e.path, {})[e.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "distributor newsroom API", "version": "1"},
        "servers": [{"url": base_url.rstrip("/")}],
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
