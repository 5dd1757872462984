"""The command line starts fast: importing it loads click, not the libraries the commands use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from distributor import clikit
from distributor.cli import main

ROOT = Path(__file__).resolve().parents[2]
# What no command needs before it runs: web servers, platform clients, the ORM, templating.
HEAVY = {
    "aiohttp",
    "aiosmtplib",
    "alembic",
    "discord",
    "dkim",
    "distributor_channels",
    "httpx",
    "jinja2",
    "pydantic",
    "rich",
    "sqlalchemy",
    "starlette",
    "telegram",
    "uvicorn",
}


# Runs the command line in a real process and lists the modules it had imported when it exited
# (-X importtime would miss those that importlib.import_module loads, as the registry does).
PROBE = """
import atexit, sys
from pathlib import Path

out = Path(sys.argv.pop(1))
atexit.register(lambda: out.write_text("\\n".join(sorted(sys.modules))))
if sys.argv[1:] == ["--import-only"]:
    import distributor.cli
else:
    from distributor.cli import main
    main(sys.argv[1:], prog_name="distributor")
"""


def imported(*args: str, cwd: Path) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Every module a ``distributor ARGS`` process had imported, and the process."""
    env = {k: v for k, v in os.environ.items() if k != "DISTRIBUTOR_CONFIG"}
    env["PYTHONPATH"] = str(ROOT)
    listing = cwd / "modules.txt"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(listing), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return set(listing.read_text().split()), result


def test_importing_the_cli_loads_nothing_heavy(tmp_path: Path) -> None:
    modules, result = imported("--import-only", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "distributor.cli" in modules and "click" in modules  # the probe sees imports
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []


def test_a_platform_command_is_imported_only_when_needed(tmp_path: Path) -> None:
    email_cli = "distributor_channels.email.cli"
    modules, result = imported("check-config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert email_cli not in modules
    modules, result = imported("status", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not {m.split(".")[0] for m in modules} & HEAVY
    modules, result = imported("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # The listing shows the platform command by its declared line, importing none of it.
    assert "subscribers   Email subscribers" in result.stdout
    assert email_cli not in modules and "distributor_channels.email.models" not in modules
    modules, result = imported("subscribers", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert email_cli in modules and "import" in result.stdout
    # Showing a platform group's help imports its module, not what its commands run with.
    assert not {m.split(".")[0] for m in modules} & {"starlette", "uvicorn", "aiosmtplib", "dkim"}


def _leaf_commands(
    group: click.Group, ctx: click.Context, prefix: str = ""
) -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found.update(_leaf_commands(command, ctx, f"{prefix}{name} "))
        else:
            found[f"{prefix}{name}"] = command
    return found


def test_every_command_takes_the_one_declaration_of_the_shared_options() -> None:
    ctx = click.Context(main)
    commands = _leaf_commands(main, ctx)
    assert {"status", "queue", "db upgrade", "channel list", "subscribers add"} <= set(commands)
    declared = {(tuple(p.opts), getattr(p, "help", None)) for p in clikit.config_options()}
    for name, command in commands.items():
        shared = {
            (tuple(p.opts), getattr(p, "help", None))
            for p in command.params
            if {"-c", "-v", "--log-format"} & set(p.opts)
        }
        assert shared == declared, name


def test_an_unknown_command_is_a_usage_error() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["pigeon"])
    assert result.exit_code == 2 and "No such command 'pigeon'" in result.output


def test_the_state_loads_the_config_once(tmp_path: Path) -> None:
    state = clikit.CliState()
    state.config_path = tmp_path / "c.yaml"
    state.config_path.write_text("version: 1\n", encoding="utf-8")
    assert state.loaded is state.loaded
    assert state.loaded.path == state.config_path


def test_a_broken_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = clikit.CliState()
    state.config_path = tmp_path / "c.yaml"
    state.config_path.write_text("version: 1\nnope: 1\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        _ = state.loaded
    assert exited.value.code == 2
    assert "nope: unknown key" in capsys.readouterr().err
