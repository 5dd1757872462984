"""The one Jinja2 environment: sandboxed, strict, autoescaped for HTML templates.

Article text only ever reaches templates as context values, never as template source, so an
editor's ``{{`` is printed, not evaluated. HTML templates (``*.html.j2``) autoescape; other
formats receive values their payload builder has already escaped for the platform.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from distributor import errors, resources
from distributor.fitting import Draft
from distributor.types import ArticleView


def _autoescape(name: str | None) -> bool:
    return name is not None and (name.endswith(".html.j2") or name.endswith(".html"))


class Renderer:
    """Renders named templates; admin folders are searched before the bundled ones."""

    def __init__(self, search_paths: Sequence[Path] = ()) -> None:
        paths = [*search_paths, resources.templates_dir()]
        self.env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader([str(p) for p in paths]),
            undefined=jinja2.StrictUndefined,
            autoescape=_autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._cache: dict[str, jinja2.Template] = {}

    def template(self, name: str) -> jinja2.Template:
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        try:
            template = self.env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            raise errors.TemplateError(f"template {name!r} not found") from exc
        except jinja2.TemplateSyntaxError as exc:
            where = f"{exc.filename or name}:{exc.lineno}"
            raise errors.TemplateError(f"{where}: template syntax error: {exc.message}") from exc
        self._cache[name] = template
        return template

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        template = self.template(name)
        try:
            return template.render(context)
        except jinja2.TemplateError as exc:
            raise errors.TemplateError(f"template {name!r} failed to render: {exc}") from exc


def post_context(
    view: ArticleView,
    draft: Draft,
    escape: Callable[[str], str] = str,
    url_escape: Callable[[str], str] = str,
) -> dict[str, Any]:
    """The context every post template receives.

    ``escape`` prepares text for formats Jinja does not autoescape (Discord markdown); HTML
    templates pass the identity and let autoescaping do the work.
    """
    promo = None
    if draft.promo and view.promo is not None and view.promo.links:
        promo = {
            "text": escape(view.promo.text),
            "links": [
                {"label": escape(link.label), "url": url_escape(link.url)}
                for link in view.promo.links
            ],
        }
    return {
        "title": escape(draft.title),
        "summary": escape(draft.summary),
        "url": url_escape(view.url) if view.url else None,
        "image": url_escape(view.image) if view.image else None,
        "language": view.language,
        "tags": [escape(t) for t in view.tags],
        "labels": {k: escape(v) for k, v in view.labels.items()},
        "promo": promo,
        "version": view.version,
        "published_at": view.published_at,
    }
