"""Read the stories editors hand in: plain text, Markdown with YAML front matter, or JSON.

Every problem names the file (and the entry, for JSON lists, as ``export.json[2]``), so one bad
file never stops the others of the same command, nor one bad entry the others of its list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import frontmatter
import yaml

from distributor import errors
from distributor.summary import text_blocks
from distributor.timeparse import as_aware, parse_when
from distributor.types import ArticleDraft

TITLE_MAX = 300
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
_FILENAME_LANGUAGE = re.compile(r"\.([a-z]{2})\.(?:txt|text|md|markdown|json)$")
KNOWN_KEYS = frozenset(
    [
        "id",
        "title",
        "standfirst",
        "body",
        "url",
        "image",
        "language",
        "lang",
        "tags",
        "priority",
        "publish_at",
        "date",
        "format",
    ]
)


@dataclass(frozen=True)
class IngestOptions:
    """What the editor said on the command line; it wins over what the file says."""

    now: datetime
    zone: tzinfo
    url: str | None = None
    at: str | None = None
    tags: tuple[str, ...] = ()
    priority: int | None = None
    language: str | None = None
    default_language: str = "en"
    max_bytes: int = 1_000_000
    follow_up_of: int | None = None  # the story these update (``queue --follow-up-of``)


@dataclass
class Parsed:
    """One story found in a file, with notes about keys that were ignored."""

    draft: ArticleDraft
    notes: list[str] = field(default_factory=list)
    language_given: bool = True  # False: nobody said, ``default_language`` was used


@dataclass
class FileStories:
    """What one file holds: the stories read, and the entries refused.

    Each problem names its entry: ``export.json[2]: the story has no title``.
    """

    stories: list[Parsed]
    problems: list[str]


def read_file(path: Path, options: IngestOptions) -> list[Parsed]:
    """All stories in ``path``; raises ``IngestError`` if the file or any entry is wrong."""
    found = read_stories(path, options)
    if found.problems:
        raise errors.IngestError("\n".join(found.problems))
    return found.stories


def read_stories(path: Path, options: IngestOptions) -> FileStories:
    """The stories in ``path`` (a JSON list may hold several) and the entries refused.

    Raises ``IngestError`` only when the file as a whole cannot be read.
    """
    name = str(path)
    try:
        size = path.stat().st_size
        if size > options.max_bytes:
            raise errors.IngestError(
                f"{name}: file too large ({size} bytes; the limit is {options.max_bytes})"
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise errors.IngestError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise errors.IngestError(f"{name}: is a directory, not a story file") from None
    except OSError as exc:
        raise errors.IngestError(f"{name}: cannot read: {exc.strerror}") from None
    if b"\x00" in raw:
        raise errors.IngestError(f"{name}: binary file (contains NUL bytes), not a story")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise errors.IngestError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    match = _FILENAME_LANGUAGE.search(path.name.lower())
    file_language = match.group(1) if match else None
    found = FileStories([], [])
    for where, fields in _parse(text, path.suffix.lower(), name):
        try:
            if not isinstance(fields, dict):
                raise errors.IngestError(f"{name}{where}: a story must be a JSON object")
            found.stories.append(_finish(fields, options, f"{name}{where}", file_language))
        except errors.IngestError as exc:
            found.problems.append(str(exc))
    return found


def read_fields(fields: Mapping[str, Any], options: IngestOptions, name: str) -> Parsed:
    """One story from keys already parsed (the API's JSON body, the desk's form).

    Raises ``IngestError`` naming ``name`` and the key at fault, as for a file.
    """
    return _finish(fields, options, name, None)


def _parse(text: str, suffix: str, name: str) -> Iterator[tuple[str, object]]:
    stripped = text.lstrip()
    if suffix == ".json" or (suffix not in (".md", ".markdown", ".txt") and stripped[:1] in "[{"):
        yield from _parse_json(text, name)
    elif suffix in (".md", ".markdown") or stripped.startswith("---"):
        yield "", _parse_markdown(text, name)
    else:
        yield "", _parse_text(text)


def _parse_text(text: str) -> dict[str, Any]:
    """Title line, then paragraphs; the shape most newsroom exports take."""
    lines = text.strip().splitlines()
    title = lines[0].strip() if lines else ""
    return {"title": title, "body": "\n".join(lines[1:]).strip(), "format": "text"}


def _parse_markdown(text: str, name: str) -> dict[str, Any]:
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        raise errors.IngestError(f"{name}: invalid YAML front matter: {exc}") from None
    fields: dict[str, Any] = dict(post.metadata)
    body = post.content.strip()
    if not fields.get("title"):
        # No title in the front matter: take a leading "# Heading".
        first, _, rest = body.partition("\n")
        if first.startswith("# "):
            fields["title"] = first[2:].strip()
            body = rest.strip()
    fields.setdefault("body", body)
    fields.setdefault("format", "markdown")
    return fields


def _parse_json(text: str, name: str) -> Iterator[tuple[str, object]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.IngestError(
            f"{name}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})"
        ) from None
    items = data if isinstance(data, list) else [data]
    for index, item in enumerate(items):
        yield (f"[{index}]" if isinstance(data, list) else ""), item


def _finish(
    fields: Mapping[str, Any], options: IngestOptions, name: str, file_language: str | None
) -> Parsed:
    notes = [f"{name}: ignored unknown key {key!r}" for key in fields if key not in KNOWN_KEYS]
    title = _text(fields.get("title"), "title", name)
    if not title.strip():
        raise errors.IngestError(f"{name}: the story has no title")
    if "\n" in title.strip() or "\r" in title:
        raise errors.IngestError(f"{name}: the title contains a line break")
    title = " ".join(title.split())
    if len(title) > TITLE_MAX:
        raise errors.IngestError(f"{name}: the title is {len(title)} characters (max {TITLE_MAX})")
    body = _text(fields.get("body"), "body", name).strip()
    body_format = str(fields.get("format") or "text")
    if body_format not in ("text", "markdown"):
        raise errors.IngestError(f"{name}: format must be 'text' or 'markdown'")
    if not body or not text_blocks(body):
        raise errors.IngestError(f"{name}: the story has no body")
    standfirst = _text(fields.get("standfirst"), "standfirst", name).strip() or None
    url = _optional_url(options.url or fields.get("url"), "--url" if options.url else "url", name)
    image = _optional_url(fields.get("image"), "image", name)
    given_language = (
        options.language or fields.get("language") or fields.get("lang") or file_language
    )
    language = _language(given_language, options.default_language, name)
    tags = _tags(fields.get("tags"), name) + tuple(t.lower() for t in options.tags)
    priority = options.priority if options.priority is not None else fields.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int) or not -1000 <= priority <= 1000:
        raise errors.IngestError(f"{name}: priority must be a whole number from -1000 to 1000")
    external_id = fields.get("id")
    if external_id is not None and not isinstance(external_id, (str, int)):
        raise errors.IngestError(f"{name}: id must be a string or a number")
    draft = ArticleDraft(
        title=title,
        body=body,
        body_format=body_format,
        standfirst=standfirst,
        url=url,
        image=image,
        language=language,
        tags=tuple(dict.fromkeys(tags)),
        priority=priority,
        publish_at=_publish_at(fields, options, name),
        external_id=None if external_id is None else str(external_id),
        source=Path(name.split("[")[0]).name,
        follow_up_of=options.follow_up_of,
    )
    return Parsed(draft, notes, language_given=bool(given_language))


def _text(value: object, key: str, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise errors.IngestError(f"{name}: {key} must be text")
    return value


def check_url(value: str, key: str, name: str) -> str:
    url = value.strip()
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in url)
        or len(url) > 2048
    ):
        raise errors.IngestError(f"{name}: {key} is not a valid http(s) URL: {url[:200]!r}")
    return url


def _optional_url(value: object, key: str, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise errors.IngestError(f"{name}: {key} must be a URL string")
    return check_url(value, key, name)


def _language(value: object, default: str, name: str) -> str:
    language = str(value or default).strip()
    if not _LANGUAGE.match(language):
        raise errors.IngestError(f"{name}: language {language!r} is not a language code like 'fr'")
    return language.lower()


def _tags(value: object, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(t, (str, int)) for t in items):
        raise errors.IngestError(f"{name}: tags must be a list of words")
    return tuple(str(t).strip().lstrip("#").lower() for t in items if str(t).strip())


def _publish_at(fields: Mapping[str, Any], options: IngestOptions, name: str) -> datetime:
    value = options.at or fields.get("publish_at") or fields.get("date")
    if value is None:
        return options.now
    try:
        if isinstance(value, (datetime, date)):
            return as_aware(value, options.zone)
        return parse_when(str(value), now=options.now, zone=options.zone)
    except ValueError as exc:
        raise errors.IngestError(f"{name}: publish time: {exc}") from None
