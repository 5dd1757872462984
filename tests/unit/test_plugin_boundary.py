"""The core never imports a platform: platforms depend on the core, never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "distributor"
PLATFORM_PACKAGES = ("distributor_channels", "channels")


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append((node.lineno, str(node.args[0].value)))
    return found


@pytest.mark.parametrize(
    "path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE.parent))
)
def test_core_module_imports_no_platform(path: Path) -> None:
    offending = [
        f"{path.name}:{line}: {module}"
        for line, module in _imported_modules(path)
        if module.split(".")[0] in PLATFORM_PACKAGES
    ]
    assert not offending, f"the core imports a platform: {offending}"
    # Nor by name in a string handed to importlib (the built-ins register by entry point).
    assert "distributor_channels" not in path.read_text(encoding="utf-8")


def test_the_check_sees_an_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from distributor_channels.email import cli\nimport channels.base\n", encoding="utf-8"
    )
    modules = [module for _, module in _imported_modules(sample)]
    assert modules == ["distributor_channels.email", "channels.base"]


def test_builtin_platforms_come_from_entry_points() -> None:
    from distributor import registry

    assert {"telegram", "discord", "email"} <= set(registry.names())
    email = registry.get("email")
    assert email.commands == {"subscribers": "distributor_channels.email.cli:subscribers"}
    assert email.migrations and email.models and email.web_routes
