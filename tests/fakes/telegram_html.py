"""Telegram's HTML parse mode, re-implemented for the fake Bot API server.

Written from the behaviour of TDLib's ``parse_html`` (the code the real Bot API server runs),
not from this project's own formatter, so that the fake checks the project independently.
It works on UTF-8 bytes like TDLib does: error offsets are byte offsets, entity offsets and
lengths are UTF-16 code units.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tests.fakes.telegram_entities import Entity

_ALLOWED_TAGS = frozenset(
    {
        b"a", b"b", b"strong", b"i", b"em", b"s", b"strike", b"del", b"u", b"ins",
        b"tg-spoiler", b"tg-emoji", b"tg-time", b"span", b"pre", b"code", b"blockquote",
    }
)  # fmt: skip
_SIMPLE_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler",
}  # fmt: skip
_NAMED_ENTITIES = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}
_SPACES = frozenset(b" \t\r\n\v\f\0")  # TDLib's is_space() also matches the terminating NUL


class HtmlParseError(ValueError):
    """The text is not valid Telegram HTML; ``reason`` is TDLib's message (no prefix)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Open:
    tag: str
    offset: int  # UTF-16 offset in the output
    byte_pos: int  # byte offset in the output, for <a> without href
    argument: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _decode_entity(t: bytes, pos: int) -> tuple[int, int]:
    """TDLib's decode_html_entity: (code point or 0, position after the reference)."""
    res = 0
    if t[pos + 1] == 0x23:  # '#': a numeric character reference
        end = pos + 2
        base, digits = 10, b"0123456789"
        if t[end] == 0x78:  # only a lowercase 'x' means hexadecimal
            end += 1
            base, digits = 16, b"0123456789abcdefABCDEF"
        while t[end] in digits:
            if res <= 0x10FFFF:  # past this it is rejected anyway; avoid huge ints
                res = res * base + int(chr(t[end]), 16)
            end += 1
        if res == 0 or res >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        end = pos + 1
        while chr(t[end]).isascii() and chr(t[end]).isalpha():
            end += 1
        code = _NAMED_ENTITIES.get(t[pos + 1 : end])
        if code is None:
            return 0, pos  # unknown names stay literal text
        res = code
    if t[end] == 0x3B:  # ';' is optional
        end += 1
    return res, end


def _encode(code: int) -> bytes:
    return chr(code).encode("utf-8", "surrogatepass")


def _checked_link(url: str) -> str:
    """A simplified LinkManager::get_checked_link: normalised URL, or "" if TDLib drops it."""
    low = url.lower()
    if any(ch.isspace() for ch in url):
        return ""
    for scheme in ("tg:", "ton:", "tonsite:"):
        if low.startswith(scheme):
            rest = url[len(scheme) :].removeprefix("//")
            cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
            host, tail = rest[:cut], rest[cut:]
            if not host or not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in host):
                return ""
            tail = tail if tail.startswith("/") else "/" + tail
            tail = tail[1:] if tail.startswith("/?") else tail
            return f"{scheme[:-1]}://{host}{tail}"
    scheme = "http"
    if "://" in url:
        scheme, _, url = url.partition("://")
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            return ""
    cut = min((i for i in (url.find(c) for c in "/?#") if i >= 0), default=len(url))
    host, tail = url[:cut], url[cut:]
    hostname = host.rpartition("@")[2].split(":")[0]
    if not hostname or "." not in hostname:
        return ""
    tail = tail if tail.startswith("/") else "/" + tail
    return f"{scheme}://{host.lower()}{tail}"


def parse_html(html: str) -> tuple[str, list[Entity]]:
    """Parse Telegram HTML into plain text and entities.

    Args:
        html: The text as sent with ``parse_mode=HTML``.

    Returns:
        The plain text (tags removed, character references decoded) and its entities, before
        the clean-up that :func:`fix_formatted_text` applies.

    Raises:
        HtmlParseError: With TDLib's reason, e.g. ``Unsupported start tag "p" at byte offset 0``.
    """
    data = html.encode("utf-8", "surrogatepass")
    size = len(data)
    t = data + b"\0\0\0"  # TDLib reads a NUL-terminated C string
    out = bytearray()
    utf16 = 0
    bad_surrogate = False
    stack: list[_Open] = []
    entities: list[Entity] = []
    i = 0
    while i < size:
        c = t[i]
        if c == 0x26:  # '&'
            code, after = _decode_entity(t, i)
            if code:
                utf16 += 2 if code > 0xFFFF else 1
                bad_surrogate |= 0xD800 <= code <= 0xDFFF
                out += _encode(code)
                i = after
                continue
        if c != 0x3C:  # '<'
            if c & 0xC0 != 0x80:  # first byte of a UTF-8 sequence
                utf16 += 2 if c >= 0xF0 else 1
            out.append(c)
            i += 1
            continue
        begin = i
        i += 1
        if t[i] != 0x2F:  # not '/': a start tag
            i = _start_tag(t, begin, stack, utf16, len(out))
        else:
            i = _end_tag(t, begin, stack, entities, utf16, out)
        i += 1
    if stack:
        tag = stack[-1].tag
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{tag}"')
    if bad_surrogate:
        raise HtmlParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    # A language on a <code> outside <pre> is dropped.
    entities = [replace(e, language=None) if e.type == "code" else e for e in entities]
    entities.sort(key=Entity.sort_key)
    return out.decode("utf-8"), entities


def _start_tag(t: bytes, begin: int, stack: list[_Open], utf16: int, out_len: int) -> int:
    """Parse ``<tag attr...>`` starting at ``begin``; returns the index of the closing '>'."""
    i = begin + 1
    while t[i] not in _SPACES and t[i] != 0x3E:
        i += 1
    if t[i] == 0:
        raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
    raw_tag = t[begin + 1 : i].lower()
    tag = raw_tag.decode("utf-8", "replace")
    if raw_tag not in _ALLOWED_TAGS:
        raise HtmlParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
    opened = _Open(tag, utf16, out_len)
    while t[i] != 0x3E:
        while t[i] != 0 and t[i] in _SPACES:
            i += 1
        if t[i] == 0x3E:
            break
        name_begin = i
        while t[i] not in _SPACES and t[i] not in b"=>/\"'":
            i += 1
        name = t[name_begin:i].decode("utf-8", "replace")
        if not name:
            raise HtmlParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        while t[i] != 0 and t[i] in _SPACES:
            i += 1
        if t[i] != 0x3D:  # an attribute without a value
            if t[i] == 0:
                raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            if tag == "blockquote" and name == "expandable":
                opened.argument = "1"
            continue
        i += 1
        while t[i] != 0 and t[i] in _SPACES:
            i += 1
        if t[i] == 0:
            raise HtmlParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        if t[i] not in b"'\"":
            # An unquoted value is an HTML name token, which is case-insensitive.
            token_begin = i
            while chr(t[i]).isascii() and (chr(t[i]).isalnum() or t[i] in b".-"):
                i += 1
            value = t[token_begin:i].lower().decode("ascii")
            if t[i] not in _SPACES and t[i] != 0x3E:
                raise HtmlParseError(f"Unexpected end of name token at byte offset {token_begin}")
        else:
            quote = t[i]
            i += 1
            buf = bytearray()
            while t[i] != quote and t[i] != 0:
                if t[i] == 0x26:
                    code, after = _decode_entity(t, i)
                    if code:
                        buf += _encode(code)
                        i = after
                        continue
                buf.append(t[i])
                i += 1
            if t[i] == quote:
                i += 1
            value = buf.decode("utf-8", "surrogatepass")
        if t[i] == 0:
            raise HtmlParseError(f"Unclosed start tag at byte offset {begin}")
        _take_attribute(opened, name, value)
    if tag == "span" and opened.argument != "spoiler":
        raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
    stack.append(opened)
    return i


def _take_attribute(opened: _Open, name: str, value: str) -> None:
    tag = opened.tag
    if tag == "a" and name == "href":
        opened.argument = value
    elif tag == "code" and name == "class" and value.startswith("language-"):
        opened.argument = value[9:]
    elif tag == "span" and name == "class" and value.startswith("tg-"):
        opened.argument = value[3:]
    elif tag == "tg-emoji" and name == "emoji-id":
        opened.argument = value
    elif tag == "tg-time" and name in ("unix", "format"):
        opened.extra[name] = value
    elif tag == "blockquote" and name == "expandable":
        opened.argument = "1"


def _end_tag(
    t: bytes, begin: int, stack: list[_Open], entities: list[Entity], utf16: int, out: bytearray
) -> int:
    """Parse ``</tag>`` at ``begin``, closing the innermost open tag; returns the '>' index."""
    if not stack:
        raise HtmlParseError(f"Unexpected end tag at byte offset {begin}")
    i = begin + 1
    while t[i] not in _SPACES and t[i] != 0x3E:
        i += 1
    end_tag = t[begin + 2 : i].lower().decode("utf-8", "replace")
    while t[i] != 0 and t[i] in _SPACES:
        i += 1
    if t[i] != 0x3E:
        raise HtmlParseError(f"Unclosed end tag at byte offset {begin}")
    top = stack.pop()
    if end_tag and end_tag != top.tag:
        raise HtmlParseError(
            f'Unmatched end tag at byte offset {begin}, expected "</{top.tag}>", '
            f'found "</{end_tag}>"'
        )
    if utf16 > top.offset:
        _close_entity(top, utf16 - top.offset, entities, out)
    return i


def _close_entity(top: _Open, length: int, entities: list[Entity], out: bytearray) -> None:
    offset, tag, arg = top.offset, top.tag, top.argument
    last = entities[-1] if entities else None
    same_span = last is not None and last.offset == offset and last.length == length
    if tag in _SIMPLE_TAGS:
        entities.append(Entity(_SIMPLE_TAGS[tag], offset, length))
    elif tag == "tg-emoji":
        if not arg.lstrip("-").isdigit() or int(arg) == 0 or abs(int(arg)) >= 2**63:
            raise HtmlParseError("Invalid custom emoji identifier specified")
        entities.append(Entity("custom_emoji", offset, length, custom_emoji_id=arg))
    elif tag == "tg-time":
        unix = top.extra.get("unix", "")
        if unix.isdigit():
            fmt = top.extra.get("format") or None
            entities.append(Entity("date_time", offset, length, unix_time=int(unix),
                                   date_time_format=fmt))  # fmt: skip
    elif tag == "a":
        url = _checked_link(arg or out[top.byte_pos :].decode("utf-8", "surrogatepass"))
        if url:  # an invalid link is silently dropped, the text stays
            entities.append(Entity("text_link", offset, length, url=url))
    elif tag == "pre":
        if same_span and last is not None and last.type == "code" and last.language:
            entities[-1] = replace(last, type="pre")
        else:
            entities.append(Entity("pre", offset, length))
    elif tag == "code":
        if same_span and last is not None and last.type == "pre" and arg:
            entities[-1] = replace(last, language=arg)
        else:
            entities.append(Entity("code", offset, length, language=arg or None))
    elif tag == "blockquote":
        kind = "expandable_blockquote" if arg else "blockquote"
        entities.append(Entity(kind, offset, length))
