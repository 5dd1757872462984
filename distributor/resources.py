"""Where the bundled templates and configs are, in a source checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    # The wheel carries them under distributor/_data/; a source checkout has them at the top.
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def templates_dir() -> Path:
    return _bundled("templates")


def config_dir() -> Path:
    return _bundled("config")


def default_config_path() -> Path:
    return config_dir() / "default.yaml"


def samples_dir() -> Path:
    return config_dir() / "samples"
