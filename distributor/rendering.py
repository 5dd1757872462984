"""The one Jinja2 environment: sandboxed, strict, autoescaped for HTML templates, bounded.

Article text only ever reaches templates as context values, never as template source, so an
editor's ``{{`` is printed, not evaluated. HTML templates (``*.html.j2``) autoescape; other
formats receive values their payload builder has already escaped for the platform.

Templates are the admin's code, so they are confined as well:

- They are read from template folders only: the ``templates/`` folder next to the config file,
  then the bundled one. A name with ``..``, an absolute name or a symlink leading out of those
  folders is refused, so no template can ``{% include %}`` the YAML or a DKIM key into a post.
- ``**`` and ``*`` are bounded (the size of a power or a product, the length of a repetition),
  as are ``%`` format widths and the str padding methods, so one expression cannot hang a
  worker or fill its memory.
- Every failure while loading or rendering is an ``errors.TemplateError`` naming the template
  file and line. The dispatcher treats it as permanent: rendering again fails the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from distributor import errors, resources
from distributor.fitting import Draft
from distributor.types import ArticleView, Promo, PromoLink

TEMPLATES_FOLDER = "templates"
"""The folder next to the config file that holds the admin's templates."""

MAX_INT_BITS = 4096
"""The largest integer a template may compute with ``**`` or ``*`` (about 1,200 digits)."""

MAX_SIZE = 100_000
"""The longest string or list a repetition (``"=" * n``) or a padding width may produce."""

_PADDING_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
_PADDING_FILTERS = ("center", "indent")
# A printf-style field: "%%" (a literal percent) or flags, a width and a precision.
_PERCENT_FIELD = re.compile(r"%%|%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?")


class RenderError(errors.TemplateError):
    """A template that failed to load or render; ``template`` is the name it was asked by."""

    def __init__(self, message: str, *, template: str) -> None:
        super().__init__(message)
        self.template = template


class _OutsideFolders(jinja2.TemplateError):
    """A template name or file that leads out of the template folders."""


class _FolderLoader(jinja2.FileSystemLoader):
    """Loads files inside the template folders only, and remembers which files it read."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.roots = [folder.resolve() for folder in folders]
        super().__init__([str(root) for root in self.roots])
        self.files: set[str] = set()

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        parts = template.replace("\\", "/").split("/")
        if template.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise _OutsideFolders(
                f"{template!r} leads out of the template folders: a template and whatever it "
                "includes or imports is named relative to a template folder, without '..'"
            )
        source, filename, uptodate = super().get_source(environment, template)
        real = Path(filename).resolve()
        if not any(real.is_relative_to(root) for root in self.roots):
            raise _OutsideFolders(
                f"{template!r} is a link to {real}, outside the template folders "
                f"({', '.join(str(root) for root in self.roots)})"
            )
        self.files.add(filename)
        return source, filename, uptodate


def _too_big(what: str) -> SecurityError:
    return SecurityError(f"{what} is too large for a template (the sandbox bounds it)")


def _check_power(base: Any, exponent: Any) -> None:
    # |base| ** exponent has log2(|base|) * exponent bits: refuse before computing it.
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and abs(base) > 1
        and math.log2(abs(base)) * exponent > MAX_INT_BITS
    ):
        raise _too_big(f"{base} ** {exponent}")


def _check_product(left: Any, right: Any) -> None:
    for items, times in ((left, right), (right, left)):
        sized = isinstance(items, str | bytes | list | tuple)
        if sized and isinstance(times, int) and len(items) * times > MAX_SIZE:
            raise _too_big(f"repeating {len(items)} characters or items {times} times")
    ints = isinstance(left, int) and isinstance(right, int)
    if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise _too_big("the product")


def _check_percent(text: str) -> None:
    for field in _PERCENT_FIELD.finditer(text):
        for size in field.groups():
            if size == "*" or (size is not None and int(size) > MAX_SIZE):
                raise _too_big(f"the format field {field[0]!r}")


def _check_sizes(values: Sequence[Any], what: str) -> None:
    for value in values:
        if isinstance(value, int) and value > MAX_SIZE:
            raise _too_big(f"{what} {value}")


def _bounded_filter(original: Callable[..., Any], name: str) -> Callable[..., Any]:
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_sizes([*args, *kwargs.values()], f"the {name} width")
        return original(value, *args, **kwargs)

    return bounded


class _BoundedEnvironment(SandboxedEnvironment):
    """The sandbox, with operators and padding that could exhaust a worker bounded."""

    # Intercepted operators are also never folded at compile time (9**(9**9) would hang
    # compiling the template, before any render).
    intercepted_binops = frozenset({"**", "*", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for name in _PADDING_FILTERS:
            self.filters[name] = _bounded_filter(self.filters[name], name)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_product(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_percent(left)
        return super().call_binop(context, operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        if isinstance(getattr(obj, "__self__", None), str) and obj.__name__ in _PADDING_METHODS:
            _check_sizes([*args, *kwargs.values()], f"the {obj.__name__} width")
        return super().call(context, obj, *args, **kwargs)


def _autoescape(name: str | None) -> bool:
    return name is not None and (name.endswith(".html.j2") or name.endswith(".html"))


class Renderer:
    """Renders named templates; admin folders are searched before the bundled ones.

    Args:
        search_paths: the admin's template folders, searched in order before the bundled one.
        config_dir: the config file's folder, only to explain a template left next to it.
    """

    def __init__(
        self, search_paths: Sequence[Path] = (), *, config_dir: Path | None = None
    ) -> None:
        self.folders = [*search_paths, resources.templates_dir()]
        self.config_dir = config_dir
        self._loader = _FolderLoader(self.folders)
        self.env = _BoundedEnvironment(
            loader=self._loader,
            undefined=jinja2.StrictUndefined,
            autoescape=_autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._cache: dict[str, jinja2.Template] = {}

    @classmethod
    def for_config(cls, config_dir: Path) -> Renderer:
        """The renderer of a configuration: its ``templates/`` folder, then the bundled one."""
        return cls([config_dir / TEMPLATES_FOLDER], config_dir=config_dir)

    def template(self, name: str) -> jinja2.Template:
        """The compiled template.

        Raises:
            RenderError: not found, outside the template folders, unreadable, or a syntax error.
        """
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        try:
            template = self.env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            raise RenderError(self._not_found(name), template=name) from exc
        except jinja2.TemplateSyntaxError as exc:
            where = f"{exc.filename or name}:{exc.lineno}"
            message = f"{where}: template syntax error: {exc.message}"
            raise RenderError(message, template=name) from exc
        except Exception as exc:  # outside the folders, not UTF-8, unreadable
            raise RenderError(f"template {name!r}: {_describe(exc)}", template=name) from exc
        self._cache[name] = template
        return template

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render a template.

        Raises:
            RenderError: whatever went wrong (a sandbox refusal, an undefined name, a type
                error, an include that is missing or outside the folders), with file and line.
        """
        template = self.template(name)
        try:
            return template.render(context)
        except Exception as exc:
            where = self._where(exc) or name
            message = f"{where}: template {name!r} failed to render: {_describe(exc)}"
            raise RenderError(message, template=name) from exc

    def _where(self, exc: BaseException) -> str | None:
        """``file:line`` of the innermost template frame of the error's traceback."""
        found = None
        tb = exc.__traceback__
        while tb is not None:
            # Jinja rewrites template frames to carry the template's file name and line.
            filename = tb.tb_frame.f_code.co_filename
            if filename in self._loader.files:
                found = f"{filename}:{tb.tb_lineno}"
            tb = tb.tb_next
        return found

    def _not_found(self, name: str) -> str:
        shown = ", ".join(str(folder) for folder in self.folders)
        if self.config_dir is not None and (self.config_dir / name).is_file():
            inside = self.config_dir / TEMPLATES_FOLDER
            if name.startswith(f"{TEMPLATES_FOLDER}/"):
                return (
                    f"template {name!r} not found: name templates relative to {inside}, "
                    f"i.e. {name.removeprefix(f'{TEMPLATES_FOLDER}/')!r}"
                )
            return (
                f"template {name!r} not found: it is next to the config file, outside the "
                f"template folders; move it to {inside / name}"
            )
        return f"template {name!r} not found (looked in {shown})"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"template {exc.name!r} not found"
    if isinstance(exc, jinja2.TemplateError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


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
        "notice": escape(view.notice) if view.notice else None,
        "withdrawn": view.withdrawn,
    }


def sample_views(
    language: str, labels: Mapping[str, str], summary_max_chars: int | None
) -> tuple[ArticleView, ArticleView]:
    """Two stories ``check-config`` renders each channel's templates with.

    A full one (link, image, tags, promo, a correction) and a bare one (none of those), so
    both sides of a template's ``{% if %}`` run once before any reader's story does.
    """
    full = ArticleView(
        id=1,
        version=2,
        title="Sample story: the footbridge opens on Saturday",
        url="https://news.example.org/sample-story",
        image="https://news.example.org/sample-story.jpg",
        language=language,
        tags=("sample", "city"),
        priority=5,
        published_at=datetime(2026, 1, 2, 8, 30, tzinfo=UTC),
        lead=(
            "The footbridge links the two banks of the river.",
            "Work took three years.",
            "Cyclists and walkers share it.",
        ),
        promo=Promo(
            text="Join us on our other channels:",
            links=(PromoLink(label="Sample", url="https://news.example.org/join"),),
        ),
        labels=labels,
        summary_max_chars=summary_max_chars,
        notice=labels.get("corrected"),
    )
    bare = ArticleView(
        id=2,
        version=1,
        title="Sample brief",
        url=None,
        image=None,
        language=language,
        tags=(),
        priority=0,
        published_at=datetime(2026, 1, 2, 9, 0, tzinfo=UTC),
        lead=(),
        promo=None,
        labels=labels,
        summary_max_chars=summary_max_chars,
    )
    return full, bare
