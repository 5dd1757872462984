"""``subscribers export`` writes nothing a spreadsheet would run; ``import`` reads it back."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from distributor.cli import main
from distributor_channels.email import csvio
from tests.email.world import email_config
from tests.fakes.smtp import FakeSMTP
from tests.helpers import write_config

# Valid addresses a reader may type, each a formula to a spreadsheet (or quote-prefixed already).
ADDRESSES = [
    "=1+1@example.org",
    "+1@example.org",
    "-2+3@example.org",
    "'o@example.org",
    "'=already@example.org",
    "plain@example.org",
]
TOPICS = "=cmd|+sum|-x|@home|'quoted|sport"


@pytest.fixture
def config(tmp_path: Path, store_url: str, smtp_server: FakeSMTP) -> Path:
    return write_config(tmp_path, email_config(store_url, tmp_path, smtp_server)).path


def run(*args: str) -> Result:
    result = CliRunner().invoke(main, ["subscribers", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def exported(config: Path) -> list[dict[str, str]]:
    """The export as a spreadsheet reads it (plain CSV, no sniffing)."""
    text = run("export", "-c", str(config)).output
    return list(csv.DictReader(io.StringIO(text)))


def test_export_neutralises_formulas_and_import_restores_them(config: Path, tmp_path: Path) -> None:
    added = run("add", "-c", str(config), "--confirmed", "--topics", TOPICS, "--", *ADDRESSES)
    assert added.exit_code == 0, added.output
    rows = exported(config)
    assert len(rows) == len(ADDRESSES)
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    shown = {row["email"] for row in rows}
    assert "'=1+1@example.org" in shown and "''o@example.org" in shown
    assert "plain@example.org" in shown

    # Read back: exactly the addresses and topics that were exported.
    (tmp_path / "export.csv").write_text(run("export", "-c", str(config)).output)
    run("remove", "-c", str(config), "--forget", "--", *ADDRESSES)
    assert exported(config) == []
    imported = run("import", "-c", str(config), str(tmp_path / "export.csv"), "--confirmed")
    assert imported.exit_code == 0, imported.output
    again = exported(config)
    assert sorted(r["email"] for r in again) == sorted(r["email"] for r in rows)
    assert {r["topics"] for r in again} == {r["topics"] for r in rows}


def test_cells_round_trip_exactly() -> None:
    for value in ["=1+1", "+x", "-x", "@x", "\tx", "\rx", "'x", "''x", "'=x", "x", "", "'"]:
        assert csvio.restore(csvio.neutralise(value)) == value, value
    # Other tools' cells that merely begin with a quote stay as they are.
    assert csvio.restore("'o@example.org") == "'o@example.org"
