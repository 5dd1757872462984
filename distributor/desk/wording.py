"""The API's validation problems in plain words, each naming its field.

pydantic's own messages describe its internals ("Value should have at least 1 item after
validation, not 0" for an empty title, a union member's tag in the location). A CMS developer
reading a 422 wants ``title: must not be empty``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# A location part naming a member of a union (``int``, ``function-after[…]``), not a field.
_MEMBER_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "constrained-str"}
# Errors saying only that the value is of another type: in a union, some member's fault.
_TYPE_MISMATCH = {
    "string_type",
    "int_type",
    "int_parsing",
    "int_from_float",
    "float_type",
    "float_parsing",
    "bool_type",
    "bool_parsing",
    "list_type",
    "dict_type",
    "model_type",
    "none_required",
}


def field_of(location: Sequence[int | str]) -> str:
    """``("tags", 0)`` → ``tags[0]``; union member tags are left out; empty: ``body``."""
    name = ""
    for part in location:
        if isinstance(part, int):
            name += f"[{part}]"
        elif part in _MEMBER_TAGS or any(c in part for c in "[](<"):
            continue
        else:
            name += f".{part}" if name else part
    return name or "body"


def _size(ctx: Mapping[str, Any], value: object, bound: str) -> str:
    count = ctx.get(bound)
    if isinstance(value, str) or value is None:
        unit = "character" if count == 1 else "characters"
    else:
        unit = "item" if count == 1 else "items"
    return f"{count} {unit}"


def message(error: Mapping[str, Any]) -> str:
    """One error in plain words, without its field."""
    kind = error["type"]
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    value = error.get("input")
    if kind in ("too_short", "string_too_short"):
        if ctx.get("min_length") == 1:
            return "must not be empty"
        return f"must have at least {_size(ctx, value, 'min_length')}"
    if kind in ("too_long", "string_too_long"):
        return f"must have at most {_size(ctx, value, 'max_length')}"
    plain = {
        "missing": "is required",
        "extra_forbidden": "is not a known key",
        "string_type": "must be text",
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "list_type": "must be a list",
        "dict_type": "must be a JSON object",
        "model_type": "must be a JSON object",
        "none_required": "must be null",
    }
    if kind in plain:
        return plain[kind]
    bounds = {
        "greater_than_equal": ("ge", "must be {} or more"),
        "less_than_equal": ("le", "must be {} or less"),
        "greater_than": ("gt", "must be more than {}"),
        "less_than": ("lt", "must be less than {}"),
    }
    if kind in bounds:
        key, text = bounds[kind]
        return text.format(ctx.get(key))
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])  # our own validators' words, without "Value error, "
    text = str(error.get("msg", "is not valid"))
    return text[:1].lower() + text[1:]


def problems(errors: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(field, message) per field at fault, in the order pydantic found them.

    A value refused by every member of a union gets one message: the members' complaints
    beyond "wrong type" if any (``id: must have at most 256 characters``), else the types
    it may have (``id: must be text or a whole number``).
    """
    by_field: dict[str, list[Mapping[str, Any]]] = {}
    for error in errors:
        by_field.setdefault(field_of(error["loc"]), []).append(error)
    found: list[tuple[str, str]] = []
    for name, group in by_field.items():
        specific = [e for e in group if e["type"] not in _TYPE_MISMATCH]
        words = list(dict.fromkeys(message(e) for e in (specific or group)))
        if not specific and len(words) > 1:
            words = [words[0] + "".join(f" or {w.removeprefix('must be ')}" for w in words[1:])]
        found.extend((name, w) for w in words)
    return found
