"""The configuration reference in ``docs/configuration.md``, generated from the config models.

Every key's type, default and description come from the pydantic models themselves (the core's
``AppConfig`` and each installed platform's ``config_model``), so the reference cannot drift from
what ``check-config`` accepts. The generated tables sit between two marker comments; prose may
surround them. ``python -m distributor.config_reference --write`` regenerates them, ``--check``
exits 1 when they are out of date, and without options the tables are printed.

A secret's default is never printed: a field may name what to show instead through
``json_schema_extra={"reference_default": "…"}`` (the web secret says "development default").
"""

from __future__ import annotations

import argparse
import enum
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from distributor import registry
from distributor.config import AppConfig, ChannelConfig

BEGIN = "<!-- BEGIN GENERATED CONFIG REFERENCE: python -m distributor.config_reference --write -->"
END = "<!-- END GENERATED CONFIG REFERENCE -->"
DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
SHOWN_DEFAULT = "reference_default"


@dataclass(frozen=True, slots=True)
class Row:
    """One key of the reference: its path in the YAML, type, default and description."""

    key: str
    type: str
    default: str
    description: str


@dataclass(frozen=True, slots=True)
class Section:
    """One table: a title, a sentence of introduction and its rows."""

    title: str
    intro: str
    rows: tuple[Row, ...]


def sections() -> list[Section]:
    """The reference: the file's keys, the keys every channel has, then each platform's own."""
    out = [
        Section(
            "The file",
            "Top-level keys and their sections. `channels` entries are described below.",
            tuple(model_rows(AppConfig, stop=("channels",))),
        ),
        Section(
            "Keys every channel has",
            "Each entry of `channels` has these keys, whatever its platform.",
            tuple(model_rows(ChannelConfig, "channels[].")),
        ),
    ]
    for spec in registry.installed():
        out.append(
            Section(
                f"`{spec.name}` channels",
                f"A channel with `platform: {spec.name}` also has these keys.",
                tuple(model_rows(spec.config_model, "channels[].", base=ChannelConfig)),
            )
        )
    return out


def model_rows(
    model: type[BaseModel],
    prefix: str = "",
    *,
    stop: Sequence[str] = (),
    base: type[BaseModel] | None = None,
) -> list[Row]:
    """Rows for ``model``'s fields, nested models expanded under their key.

    Args:
        model: The pydantic model.
        prefix: The key path of the model in the file (``"channels[]."``).
        stop: Field names whose nested models are not expanded (described elsewhere).
        base: Leave out the fields inherited unchanged from this model.
    """
    rows: list[Row] = []
    for name, field in model.model_fields.items():
        if base is not None and _inherited(base, name, field):
            continue
        key = f"{prefix}{field.alias or name}"  # the YAML's spelling (`from`, a keyword here)
        rows.append(
            Row(
                key=key,
                type=_type_text(field.annotation) + _constraints(field),
                default=_default_text(field),
                description=field.description or "",
            )
        )
        if name in stop:
            continue
        nested, many = _nested_model(field.annotation)
        if nested is not None:
            rows.extend(model_rows(nested, f"{key}[]." if many else f"{key}."))
    return rows


def undocumented() -> list[str]:
    """Key paths of every field that has no description (each must have one)."""
    return [row.key for section in sections() for row in section.rows if not row.description]


def render() -> str:
    """The generated part of ``docs/configuration.md`` (between the markers)."""
    parts: list[str] = []
    for section in sections():
        parts.append(f"### {section.title}\n\n{section.intro}\n")
        lines = ["| key | type | default | description |", "|---|---|---|---|"]
        for row in section.rows:
            cells = (f"`{row.key}`", row.type, row.default, row.description)
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts).rstrip("\n")


def generated_part(text: str) -> str:
    """What sits between the markers of ``text``.

    Raises:
        ValueError: A marker is missing or they are out of order.
    """
    start, end = _marker_span(text)
    return text[start:end].strip("\n")


def splice(text: str, generated: str) -> str:
    """``text`` with the part between its markers replaced by ``generated``."""
    start, end = _marker_span(text)
    return f"{text[:start]}\n{generated}\n{text[end:]}"


def _marker_span(text: str) -> tuple[int, int]:
    begin = text.find(BEGIN)
    end = text.find(END)
    if begin < 0 or end < 0 or end < begin:
        raise ValueError(f"the markers {BEGIN!r} and {END!r} must enclose the generated part")
    return begin + len(BEGIN), end


def _inherited(base: type[BaseModel], name: str, field: FieldInfo) -> bool:
    mine = base.model_fields.get(name)
    if mine is None:
        return False
    same = ("annotation", "default", "default_factory", "description", "metadata")
    return all(getattr(mine, attr) == getattr(field, attr) for attr in same)


def _nested_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model inside ``annotation`` (``M``, ``M | None``, ``tuple[M, ...]``), and if a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = get_origin(annotation)
    args = [arg for arg in get_args(annotation) if arg is not type(None) and arg is not Ellipsis]
    if origin in (Union, types.UnionType) and len(args) == 1:
        return _nested_model(args[0])
    if origin in (tuple, list) and len(args) == 1:
        found, _ = _nested_model(args[0])
        return found, found is not None
    return None, False


def _type_text(annotation: Any) -> str:
    if annotation is type(None):
        return "none"
    if annotation is SecretStr:
        return "secret string"
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if annotation in simple:
        return simple[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " or ".join(f"`{member.value}`" for member in annotation)
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return " or ".join(f"`{value}`" for value in args)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_text(arg) for arg in args)
    if origin in (tuple, list):
        item = _type_text(args[0]) if args else "value"
        return (
            f"list of {item}s" if item.isalpha() or item == "secret string" else f"list of: {item}"
        )
    if origin is dict:
        key, value = (_type_text(arg) for arg in args)
        return f"mapping of {key} to {value}"
    return getattr(annotation, "__name__", str(annotation))


def _constraints(field: FieldInfo) -> str:
    words: list[str] = []
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            words.append(f"≥ {item.ge}")
        elif isinstance(item, annotated_types.Gt):
            words.append(f"> {item.gt}")
        elif isinstance(item, annotated_types.Le):
            words.append(f"≤ {item.le}")
        elif isinstance(item, annotated_types.Lt):
            words.append(f"< {item.lt}")
        elif isinstance(item, annotated_types.MinLen):
            words.append(f"length ≥ {item.min_length}")
        elif isinstance(item, annotated_types.MaxLen):
            words.append(f"length ≤ {item.max_length}")
        elif getattr(item, "pattern", None):
            words.append(f"matching `{item.pattern}`")
    return f" ({', '.join(words)})" if words else ""


def _default_text(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get(SHOWN_DEFAULT), str):
        return str(extra[SHOWN_DEFAULT])
    if field.default_factory is None and field.default is PydanticUndefined:
        return "required"
    return _value_text(field.get_default(call_default_factory=True, validated_data={}))


def _value_text(value: object) -> str:
    if isinstance(value, SecretStr):
        return "hidden"  # never a secret's value, not even a default
    if isinstance(value, BaseModel):
        return "its keys' defaults"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if isinstance(value, enum.Enum):
        return _value_text(value.value)
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(str(item) for item in value) + "]`"
    if isinstance(value, dict):
        return "`{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}`"
    if isinstance(value, str) and value == "":
        return '`""`'
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def main(argv: Sequence[str] | None = None) -> int:
    """Print the generated tables, rewrite them in place (``--write``) or check them."""
    parser = argparse.ArgumentParser(prog="python -m distributor.config_reference")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="regenerate the tables in the file")
    action.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    parser.add_argument("--file", type=Path, default=DOC_PATH, help="default: %(default)s")
    args = parser.parse_args(argv)
    generated = render()
    if not (args.write or args.check):
        print(generated)
        return 0
    text = args.file.read_text(encoding="utf-8")
    if args.check:
        if generated_part(text) != generated:
            print(f"{args.file} is out of date: run python -m distributor.config_reference --write")
            return 1
        return 0
    updated = splice(text, generated)
    if updated != text:
        args.file.write_text(updated, encoding="utf-8")
        print(f"{args.file}: configuration reference regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
