"""Read YAML into plain data while remembering the line of every key, and expand ``${VAR}``.

pydantic reports errors by key path; this module turns a path back into ``file:line`` so an
admin is sent to the right place, and gathers every problem instead of stopping at the first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KeyPath = tuple[str | int, ...]

# ${NAME} or ${NAME:-default}; $${NAME} escapes a literal.
_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class YamlSource:
    """Data read from one YAML file, with the line of each key path and any problems found."""

    file: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    secret_paths: set[KeyPath] = field(default_factory=set)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its closest ancestor that exists in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def where(self, path: KeyPath) -> str:
        line = self.line_of(path)
        dotted = format_path(path)
        location = f"{self.file}:{line}" if line is not None else self.file
        return f"{location}: {dotted}" if dotted else location


def format_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def read_yaml(text: str, file: str, environ: Mapping[str, str] | None = None) -> YamlSource:
    """Parse ``text``; syntax errors and unset variables land in ``problems`` with their line."""
    env = os.environ if environ is None else environ
    source = YamlSource(file=file, data=None)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        source.problems.append(f"{file}{line}: invalid YAML: {problem}")
        return source
    if node is None:
        source.data = {}
        return source
    # construct_object needs a loader instance for its constructors; an empty one is enough.
    loader = yaml.SafeLoader("")
    source.data = _convert(loader, node, (), source, env)
    return source


def _convert(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: KeyPath,
    source: YamlSource,
    env: Mapping[str, str],
) -> Any:
    source.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(loader.construct_object(key_node))
            child = (*path, key)
            if key in result:
                line = key_node.start_mark.line + 1
                source.problems.append(f"{source.file}:{line}: {format_path(child)}: duplicate key")
            source.lines[child] = key_node.start_mark.line + 1
            result[key] = _convert(loader, value_node, child, source, env)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(loader, item, (*path, i), source, env) for i, item in enumerate(node.value)
        ]
    value = loader.construct_object(node)
    if isinstance(value, str) and "$" in value:
        return _expand(value, path, source, env)
    return value


def _expand(value: str, path: KeyPath, source: YamlSource, env: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        source.secret_paths.add(path)
        if name in env:
            return env[name]
        if default is not None:
            return default
        source.problems.append(f"{source.where(path)}: environment variable {name} is not set")
        return ""

    return _ENV_REF.sub(substitute, value)


def read_yaml_file(path: Path, environ: Mapping[str, str] | None = None) -> YamlSource:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        source = YamlSource(file=str(path), data=None)
        source.problems.append(f"{path}: config file not found")
        return source
    except (OSError, UnicodeDecodeError) as exc:
        source = YamlSource(file=str(path), data=None)
        source.problems.append(f"{path}: cannot read config file: {exc}")
        return source
    return read_yaml(text, str(path), environ)
