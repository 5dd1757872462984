"""Telegram's HTML subset, measured the way Telegram measures it.

Telegram counts a message's length in code points of the text left after parsing: tags gone,
``&lt;`` one character (docs/telegram.md). Only ``&lt; &gt; &amp; &quot;`` and numeric
entities are decoded; any other ``&name;`` stays literal text.
"""

from __future__ import annotations

import html
import re

ALLOWED_TAGS = frozenset(
    [
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "span",
        "pre",
        "code",
        "blockquote",
    ]
)
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
RAW_TEXT_BYTES = 32768

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)([^<>]*)>")
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]+)|#[xX]([0-9a-fA-F]+));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def escape(text: str) -> str:
    """Text → safe Telegram HTML (``html.escape`` output is all Telegram-decodable)."""
    return html.escape(text, quote=True)


def _decode(match: re.Match[str]) -> str:
    name, dec, hexa = match.groups()
    if name:
        return _NAMED[name]
    try:
        return chr(int(dec) if dec else int(hexa, 16))
    except (ValueError, OverflowError):
        return match.group(0)


def visible_text(markup: str) -> str:
    """The plain text Telegram shows for ``markup``."""
    return _ENTITY.sub(_decode, _TAG.sub("", markup))


def length(markup: str) -> int:
    """Telegram's length of ``markup``: code points of the parsed text."""
    return len(visible_text(markup))


def problems(markup: str) -> list[str]:
    """What Telegram's parser would refuse in ``markup`` (unknown tags, bad nesting, bare ``<``)."""
    found: list[str] = []
    stack: list[str] = []
    position = 0
    for match in _TAG.finditer(markup):
        if "<" in markup[position : match.start()]:
            found.append(f"bare '<' at character {markup.index('<', position)}")
        position = match.end()
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name not in ALLOWED_TAGS:
            found.append(f"unsupported tag <{name}>")
            continue
        if not closing:
            stack.append(name)
        elif not stack or stack[-1] != name:
            found.append(f"unmatched end tag </{name}>")
        else:
            stack.pop()
    if "<" in markup[position:]:
        found.append(f"bare '<' at character {markup.index('<', position)}")
    found.extend(f"unclosed tag <{name}>" for name in stack)
    return found
