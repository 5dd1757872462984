"""Reader topics: which article tags a subscriber wants. No topics means every story.

Topics are stored as one string, ``"|climate|local news|"``, so "does this reader want a story
tagged X" is a plain ``LIKE '%|x|%'`` that SQLite and PostgreSQL both run inside one
INSERT … SELECT, however large the list.
"""

from __future__ import annotations

from collections.abc import Iterable


def normalise_topics(values: Iterable[str]) -> list[str]:
    """Lower-case, trimmed, de-duplicated, in first-seen order; ``|`` never survives."""
    seen: dict[str, None] = {}
    for value in values:
        topic = " ".join(value.replace("|", " ").split()).lower()
        if topic:
            seen.setdefault(topic, None)
    return list(seen)


def parse_topics(text: str | None) -> list[str]:
    """Topics typed by a person or read from CSV.

    ``|`` separates topics when present (so a topic may hold spaces: ``local news|sport``),
    else commas, else spaces.
    """
    if not text:
        return []
    if "|" in text:
        return normalise_topics(text.split("|"))
    if "," in text:
        return normalise_topics(text.split(","))
    return normalise_topics(text.split())


def to_column(topics: Iterable[str]) -> str:
    """The stored form: ``""`` for "everything", else ``"|a|b|"``."""
    clean = normalise_topics(topics)
    return f"|{'|'.join(clean)}|" if clean else ""


def from_column(value: str) -> list[str]:
    return [topic for topic in value.split("|") if topic]


def wants(column: str, tags: Iterable[str]) -> bool:
    """Whether a reader with these stored topics gets a story with these tags."""
    if not column:
        return True
    return any(f"|{tag}|" in column for tag in normalise_topics(tags))
