"""Discord message limits and mention rules, as the fake Discord API enforces them.

Facts come from the shared platform reference (Discord API v10, ``resources/message.mdx``).
Everything here is pure: the server module feeds it decoded JSON and turns the results into
HTTP answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

LengthUnit = Literal["codepoints", "utf16"]

# Discord does not document whether "characters" are code points or UTF-16 units; code
# points is the common assumption. Tests that want the stricter reading flip the fake's
# ``length_unit`` attribute (its default is read from here when the fake is created).
DEFAULT_LENGTH_UNIT: LengthUnit = "codepoints"

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_TEXT_MAX = 2048
EMBED_AUTHOR_NAME_MAX = 256
EMBED_TOTAL_MAX = 6000
NONCE_MAX = 25
WEBHOOK_USERNAME_MIN = 1
WEBHOOK_USERNAME_MAX = 80
ALLOWED_MENTIONS_IDS_MAX = 100

# Mention syntax Discord resolves in message content. Embeds never ping, so only content
# goes through these. Mentions inside code spans are counted too: over-reporting a ping is
# the safe error for tests that assert "this pings nobody".
_USER_OR_ROLE_RE = re.compile(r"<@(!|&)?(\d+)>")
_EVERYONE_RE = re.compile(r"@(?:everyone|here)")

PARSE_CHOICES = ("users", "roles", "everyone")
BOT_DEFAULT_PARSE: tuple[str, ...] = PARSE_CHOICES
WEBHOOK_DEFAULT_PARSE: tuple[str, ...] = ("users",)


def text_length(text: str, unit: LengthUnit = DEFAULT_LENGTH_UNIT) -> int:
    """Length of ``text`` as Discord counts it, ignoring leading and trailing whitespace.

    Args:
        text: The string to measure.
        unit: ``"codepoints"`` (Python ``len``) or ``"utf16"`` (UTF-16 code units).

    Returns:
        The counted length.
    """
    stripped = text.strip()
    if unit == "utf16":
        return len(stripped.encode("utf-16-le")) // 2
    return len(stripped)


class FormErrors:
    """Collects 50035 "Invalid Form Body" errors in Discord's nested ``errors`` shape."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        """Record one error at a dotted path such as ``("embeds", 0, "description")``."""
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def has_errors_under(self, key: str) -> bool:
        """Whether any error was recorded below the top-level ``key``."""
        return key in self.tree

    def __bool__(self) -> bool:
        return bool(self.tree)


_NOT_A_DICT = "Only dictionaries may be used in a DictType"
_NOT_A_LIST = "Must be an array."


def _max_length(n: int) -> str:
    return f"Must be {n} or fewer in length."


def _not_a_string(value: object) -> str:
    return f'Could not interpret "{value}" as string.'


class _Checker:
    """Validates one message payload (create, execute or edit) into a FormErrors."""

    def __init__(self, unit: LengthUnit) -> None:
        self.unit = unit
        self.errors = FormErrors()

    def string(self, path: Sequence[str | int], value: object, limit: int) -> int:
        """Check an optional string against ``limit``; return its counted length."""
        if value is None:
            return 0
        if not isinstance(value, str):
            self.errors.add(path, "BASE_TYPE_STRING", _not_a_string(value))
            return 0
        length = text_length(value, self.unit)
        if length > limit:
            self.errors.add(path, "BASE_TYPE_MAX_LENGTH", _max_length(limit))
        return length

    def required_string(self, path: Sequence[str | int], value: object, limit: int) -> int:
        if value is None or (isinstance(value, str) and not value.strip()):
            self.errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
            return 0
        return self.string(path, value, limit)

    def embed(self, index: int, embed: object, *, webhook: bool) -> int:
        """Check one embed; return its contribution to the 6000 total."""
        base: tuple[str | int, ...] = ("embeds", index)
        if not isinstance(embed, Mapping):
            self.errors.add(base, "DICT_TYPE_CONVERT", _NOT_A_DICT)
            return 0
        total = self.string((*base, "title"), embed.get("title"), EMBED_TITLE_MAX)
        total += self.string(
            (*base, "description"), embed.get("description"), EMBED_DESCRIPTION_MAX
        )
        fields = embed.get("fields")
        if fields is not None:
            if not isinstance(fields, list):
                self.errors.add((*base, "fields"), "LIST_TYPE_CONVERT", _NOT_A_LIST)
            else:
                if len(fields) > EMBED_FIELDS_MAX:
                    self.errors.add(
                        (*base, "fields"), "BASE_TYPE_MAX_LENGTH", _max_length(EMBED_FIELDS_MAX)
                    )
                for i, fld in enumerate(fields):
                    fpath = (*base, "fields", i)
                    if not isinstance(fld, Mapping):
                        self.errors.add(fpath, "DICT_TYPE_CONVERT", _NOT_A_DICT)
                        continue
                    total += self.required_string(
                        (*fpath, "name"), fld.get("name"), EMBED_FIELD_NAME_MAX
                    )
                    total += self.required_string(
                        (*fpath, "value"), fld.get("value"), EMBED_FIELD_VALUE_MAX
                    )
        footer = embed.get("footer")
        if isinstance(footer, Mapping):
            total += self.required_string(
                (*base, "footer", "text"), footer.get("text"), EMBED_FOOTER_TEXT_MAX
            )
        author = embed.get("author")
        if isinstance(author, Mapping):
            total += self.required_string(
                (*base, "author", "name"), author.get("name"), EMBED_AUTHOR_NAME_MAX
            )
        if webhook:
            # Webhook embeds are always "rich"; discord.py sends type "rich" on every embed,
            # so only another type is refused. The error code wording is the fake's own.
            if embed.get("type", "rich") != "rich":
                self.errors.add(
                    (*base, "type"), "EMBED_TYPE_INVALID", "Webhook embeds must be of type rich."
                )
            for key in ("provider", "video"):
                if key in embed:
                    self.errors.add(
                        (*base, key), "EMBED_FIELD_NOT_ALLOWED", f"Webhook embeds cannot set {key}."
                    )
        return total

    def embeds(self, value: object, *, webhook: bool) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            self.errors.add(("embeds",), "LIST_TYPE_CONVERT", _NOT_A_LIST)
            return
        if len(value) > EMBEDS_MAX:
            self.errors.add(("embeds",), "BASE_TYPE_MAX_LENGTH", _max_length(EMBEDS_MAX))
        total = sum(self.embed(i, e, webhook=webhook) for i, e in enumerate(value))
        # Reported on the list itself, and only when no single embed is already wrong:
        # discord.py's error text stops at the first "_errors" it meets on a path.
        if total > EMBED_TOTAL_MAX and not self.errors.has_errors_under("embeds"):
            self.errors.add(
                ("embeds",),
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
            )

    def nonce(self, value: object) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.errors.add(("nonce",), "BASE_TYPE_STRING", "Must be an integer or a string.")
        elif len(str(value)) > NONCE_MAX:
            self.errors.add(("nonce",), "BASE_TYPE_MAX_LENGTH", _max_length(NONCE_MAX))

    def allowed_mentions(self, value: object) -> None:
        if value is None:
            return
        if not isinstance(value, Mapping):
            self.errors.add(("allowed_mentions",), "DICT_TYPE_CONVERT", _NOT_A_DICT)
            return
        parse = value.get("parse", [])
        if not isinstance(parse, list):
            self.errors.add(("allowed_mentions", "parse"), "LIST_TYPE_CONVERT", _NOT_A_LIST)
            parse = []
        for i, item in enumerate(parse):
            if item not in PARSE_CHOICES:
                self.errors.add(
                    ("allowed_mentions", "parse", i),
                    "BASE_TYPE_CHOICES",
                    f"Value must be one of {set(PARSE_CHOICES)}.",
                )
        for kind in ("users", "roles"):
            ids = value.get(kind, [])
            if not isinstance(ids, list):
                self.errors.add(("allowed_mentions", kind), "LIST_TYPE_CONVERT", _NOT_A_LIST)
                continue
            if len(ids) > ALLOWED_MENTIONS_IDS_MAX:
                self.errors.add(
                    ("allowed_mentions", kind),
                    "BASE_TYPE_MAX_LENGTH",
                    _max_length(ALLOWED_MENTIONS_IDS_MAX),
                )
            if ids and kind in parse:
                # Discord refuses a parse type together with an explicit id list of it.
                self.errors.add(
                    ("allowed_mentions",),
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                )

    def username(self, value: object) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            self.errors.add(("username",), "BASE_TYPE_STRING", _not_a_string(value))
            return
        length = text_length(value, self.unit)
        if not WEBHOOK_USERNAME_MIN <= length <= WEBHOOK_USERNAME_MAX:
            self.errors.add(
                ("username",),
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between {WEBHOOK_USERNAME_MIN} and {WEBHOOK_USERNAME_MAX} in length.",
            )


def validate_payload(
    payload: Mapping[str, Any], *, webhook: bool, unit: LengthUnit = DEFAULT_LENGTH_UNIT
) -> dict[str, Any] | None:
    """Check a create/execute/edit payload against Discord's documented limits.

    Args:
        payload: The decoded JSON body (or ``payload_json`` of a multipart body).
        webhook: Whether the payload goes to a webhook route (adds webhook-only rules).
        unit: How string lengths are counted.

    Returns:
        The nested ``errors`` object for a 50035 answer, or ``None`` when the payload is valid.
    """
    check = _Checker(unit)
    check.string(("content",), payload.get("content"), CONTENT_MAX)
    check.embeds(payload.get("embeds"), webhook=webhook)
    check.nonce(payload.get("nonce"))
    check.allowed_mentions(payload.get("allowed_mentions"))
    if webhook:
        check.username(payload.get("username"))
    return check.errors.tree or None


def is_empty_message(
    content: str,
    embeds: Sequence[object],
    attachments: Sequence[object],
    payload: Mapping[str, Any],
) -> bool:
    """Whether Discord would answer 50006 "Cannot send an empty message"."""
    extras = ("sticker_ids", "components", "poll")
    return (
        not content.strip()
        and not embeds
        and not attachments
        and not any(payload.get(key) for key in extras)
    )


@dataclass(frozen=True, slots=True)
class Pings:
    """Who a message would actually notify."""

    everyone: bool = False
    roles: list[int] = field(default_factory=list)
    users: list[int] = field(default_factory=list)


def _unique(ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(ids))


def _as_ids(value: object) -> set[int]:
    if not isinstance(value, list):
        return set()
    return {int(v) for v in value if isinstance(v, int | str) and str(v).isdigit()}


def compute_pings(
    content: str,
    allowed_mentions: Mapping[str, Any] | None,
    *,
    default_parse: Sequence[str],
    can_mention_everyone: bool,
) -> Pings:
    """Resolve the mentions in ``content`` the way Discord decides who gets notified.

    Args:
        content: Message content (embeds never ping, so they are not passed).
        allowed_mentions: The payload's ``allowed_mentions`` or ``None`` when omitted.
        default_parse: Parse types used when ``allowed_mentions`` is omitted (bots: all
            three; webhooks: users only).
        can_mention_everyone: Whether the author holds MENTION_EVERYONE in the channel.

    Returns:
        The users, roles and everyone/here flag that would ping.
    """
    users: list[int] = []
    roles: list[int] = []
    for match in _USER_OR_ROLE_RE.finditer(content):
        (roles if match.group(1) == "&" else users).append(int(match.group(2)))
    mentions_everyone = _EVERYONE_RE.search(content) is not None

    if allowed_mentions is None:
        parse = set(default_parse)
        user_ids: set[int] = set()
        role_ids: set[int] = set()
    else:
        raw_parse = allowed_mentions.get("parse", [])
        parse = set(raw_parse) if isinstance(raw_parse, list) else set()
        user_ids = _as_ids(allowed_mentions.get("users"))
        role_ids = _as_ids(allowed_mentions.get("roles"))

    return Pings(
        everyone=mentions_everyone and "everyone" in parse and can_mention_everyone,
        roles=_unique(r for r in roles if "roles" in parse or r in role_ids),
        users=_unique(u for u in users if "users" in parse or u in user_ids),
    )
