"""Message entities and TDLib's clean-up of formatted text, for the fake Telegram server.

``Entity`` is a MessageEntity as the Bot API returns it; :func:`fix_formatted_text` applies what
TDLib's ``fix_formatted_text`` does to every text before it is sent (nesting rules, control
characters, trimming). Offsets and lengths are in UTF-16 code units.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

# TDLib orders entities by offset, then longer first, then by this priority (others: 50).
_PRIORITY = {
    "blockquote": 0, "expandable_blockquote": 0, "code": 20, "text_link": 49, "bold": 90,
    "italic": 91, "underline": 92, "strikethrough": 93, "spoiler": 94, "custom_emoji": 99,
    "date_time": 99,
}  # fmt: skip
SPLITTABLE = frozenset({"bold", "italic", "underline", "strikethrough", "spoiler"})
BLOCKQUOTES = frozenset({"blockquote", "expandable_blockquote"})
# Entities whose text may be only whitespace: they carry data beyond the text itself.
_KEEP_IF_BLANK = frozenset({"text_link", "pre", "code", "custom_emoji", "date_time"})


@dataclass(frozen=True)
class Entity:
    """One MessageEntity as the Bot API returns it (offset/length in UTF-16 units)."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None
    unix_time: int | None = None
    date_time_format: str | None = None

    @property
    def end(self) -> int:
        """UTF-16 offset just past the entity."""
        return self.offset + self.length

    def sort_key(self) -> tuple[int, int, int]:
        """TDLib's ``operator<`` on entities."""
        prio = (10 if self.language else 11) if self.type == "pre" else _PRIORITY.get(self.type, 50)
        return (self.offset, -self.length, prio)

    def to_json(self) -> dict[str, Any]:
        """The Bot API JSON form."""
        out: dict[str, Any] = {"type": self.type, "offset": self.offset, "length": self.length}
        for key in ("url", "language", "custom_emoji_id", "unix_time", "date_time_format"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _nested(inner: Entity, outer: Entity) -> bool:
    return outer.offset <= inner.offset and inner.end <= outer.end


def _drop_intersecting(entities: list[Entity]) -> list[Entity]:
    """TDLib's remove_intersecting_entities: keep an entity only if it starts after the last."""
    kept: list[Entity] = []
    last_end = 0
    for e in sorted(entities, key=Entity.sort_key):
        if e.offset >= last_end:
            kept.append(e)
            last_end = e.end
    return kept


def _fix_nesting(entities: list[Entity]) -> list[Entity]:
    """TDLib's fix_entities, for the cases HTML can produce."""
    split = [e for e in entities if e.type in SPLITTABLE]
    quotes = [e for e in entities if e.type in BLOCKQUOTES]
    cont = [e for e in entities if e.type not in SPLITTABLE and e.type not in BLOCKQUOTES]
    pres = [e for e in cont if e.type == "pre"]
    valid = (
        len(_drop_intersecting(cont)) == len(cont)
        and len(_drop_intersecting(quotes)) == len(quotes)
        and not any(_nested(q, c) for q in quotes for c in cont)
        and not any(s.offset < p.end and p.offset < s.end for s in split for p in pres)
        and all(len(_drop_intersecting([s for s in split if s.type == k])) ==
                sum(s.type == k for s in split) for k in SPLITTABLE)
    )  # fmt: skip
    if valid:
        return sorted(entities, key=Entity.sort_key)
    cont = _drop_intersecting(cont)
    quotes = _drop_intersecting(quotes)
    # Blockquotes may contain continuous entities but nothing else may cross them.
    cont = [c for c in cont if all(_nested(c, q) or c.end <= q.offset or q.end <= c.offset
                                   for q in quotes)]  # fmt: skip
    others = cont + quotes
    cuts = sorted({b for e in others for b in (e.offset, e.end)})
    pre_spans = [(p.offset, p.end) for p in cont if p.type == "pre"]
    result: list[Entity] = list(others)
    for kind in sorted(SPLITTABLE):
        merged: list[list[int]] = []
        for s in sorted((s for s in split if s.type == kind), key=Entity.sort_key):
            if merged and s.offset <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], s.end)
            else:
                merged.append([s.offset, s.end])
        for start, stop in merged:
            bounds = [start, *(c for c in cuts if start < c < stop), stop]
            for a, b in pairwise(bounds):
                if not any(p0 <= a and b <= p1 for p0, p1 in pre_spans):
                    result.append(Entity(kind, a, b - a))
    return sorted(result, key=Entity.sort_key)


def fix_formatted_text(
    text: str, entities: list[Entity], *, allow_empty: bool
) -> tuple[str, list[Entity]]:
    """Clean text and entities like TDLib's fix_formatted_text does before sending.

    Control characters become spaces, ``\\r`` and a few invisible characters are removed,
    entities that cannot nest are dropped, and leading/trailing spaces and newlines are trimmed.

    Raises:
        ValueError: ``Message text is empty`` when ``allow_empty`` is false and nothing is
            left after trimming.
    """
    removed = {0x0D, 0x2028, 0x2029, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x0333, 0x033F,
               0x030A}  # fmt: skip
    new_chars: list[str] = []
    mapping: list[int] = []  # old UTF-16 offset -> new UTF-16 offset
    pos16 = 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1
        mapping.extend([pos16] * width)
        if ord(ch) in removed:
            continue
        new_chars.append(" " if ord(ch) <= 0x20 and ch != "\n" else ch)
        pos16 += width
    mapping.append(pos16)
    text = "".join(new_chars)
    fixed = [replace(e, offset=mapping[e.offset], length=mapping[e.end] - mapping[e.offset])
             for e in entities]  # fmt: skip
    units = text.encode("utf-16-le", "surrogatepass")

    def blank(a: int, b: int) -> bool:
        return not units[2 * a : 2 * b].decode("utf-16-le", "surrogatepass").strip(" \n")

    fixed = [e for e in fixed if e.length > 0 and (e.type in _KEEP_IF_BLANK or not blank(e.offset,
             e.end))]  # fmt: skip
    fixed = _fix_nesting(fixed)
    # Trim: the right side fully, the left side only up to the first entity.
    right = len(text.rstrip(" \n"))
    right16 = utf16_len(text[:right])
    text = text[:right]
    fixed = [replace(e, length=min(e.end, right16) - e.offset) for e in fixed if e.offset < right16]
    first = min((e.offset for e in fixed), default=right16)
    left = 0
    while left < len(text) and text[left] in " \n" and left < first:
        left += 1  # these characters are one UTF-16 unit each
    text = text[left:]
    fixed = [replace(e, offset=e.offset - left) for e in fixed]
    if not text and not allow_empty:
        raise ValueError("Message text is empty")
    return text, fixed
