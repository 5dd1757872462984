"""docs/configuration.md holds what the config models generate; every key is described."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor import config_reference, registry
from distributor.config import DEVELOPMENT_WEB_SECRET

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
REGENERATE = "run: python -m distributor.config_reference --write"


def test_every_config_field_has_a_description() -> None:
    missing = config_reference.undocumented()
    assert not missing, f"config fields without a description (Field(description=...)): {missing}"


def test_the_reference_in_the_docs_is_what_the_models_generate() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert config_reference.generated_part(text) == config_reference.render(), (
        f"{DOC} is out of date; {REGENERATE}"
    )


def test_every_platform_and_nested_key_is_in_the_reference() -> None:
    keys = {row.key for section in config_reference.sections() for row in section.rows}
    assert {"version", "dispatch.lease_seconds", "promo.links[].channel"} <= keys
    assert {"channels[].filters.tags", "channels[].in_doubt"} <= keys
    assert {"channels[].rates.safety_margin", "channels[].smtp.security"} <= keys
    assert {"channels[].webhook_url", "channels[].dkim.selector"} <= keys
    titles = [section.title for section in config_reference.sections()]
    for spec in registry.installed():
        assert f"`{spec.name}` channels" in titles


def test_no_secret_default_is_printed() -> None:
    rendered = config_reference.render()
    assert DEVELOPMENT_WEB_SECRET not in rendered
    [row] = [
        row
        for section in config_reference.sections()
        for row in section.rows
        if row.key == "web.secret"
    ]
    assert row.default.startswith("development default")


def test_a_field_without_description_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from distributor.config import DispatchConfig

    field = DispatchConfig.model_fields["batch_size"]
    monkeypatch.setattr(field, "description", None)
    assert config_reference.undocumented() == ["dispatch.batch_size"]


def test_write_regenerates_only_between_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "configuration.md"
    doc.write_text(
        f"# Prose before\n\n{config_reference.BEGIN}\nstale table\n{config_reference.END}\n\n"
        "Prose after.\n",
        encoding="utf-8",
    )
    assert config_reference.main(["--check", "--file", str(doc)]) == 1
    assert config_reference.main(["--write", "--file", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Prose before\n\n") and text.endswith("\n\nProse after.\n")
    assert "stale table" not in text
    assert config_reference.generated_part(text) == config_reference.render()
    assert config_reference.main(["--check", "--file", str(doc)]) == 0


def test_missing_markers_are_an_error() -> None:
    with pytest.raises(ValueError, match="markers"):
        config_reference.generated_part("# no markers here\n")
