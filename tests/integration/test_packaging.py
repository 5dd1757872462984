"""The built wheel carries templates, configs and migrations, and runs from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_runs_the_demo_outside_the_source_tree(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    [wheel] = list(wheels.glob("distributor-*.whl"))
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheel)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DISTRIBUTOR_CONFIG")}
    env["PYTHONPATH"] = str(site)  # the installed copy only, not the checkout
    script = "import distributor, distributor_channels; print(distributor.__file__)"
    probe = subprocess.run(
        [sys.executable, "-c", script],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.startswith(str(site))
    result = subprocess.run(
        [sys.executable, "-m", "distributor", "demo"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for channel in ("telegram", "discord", "email"):
        assert len(list((workdir / "outbox" / channel).glob("*-send.*"))) == 3
    check = subprocess.run(
        [sys.executable, "-m", "distributor", "check-config", "-c",
         str(site / "distributor" / "_data" / "config" / "default.yaml")],
        cwd=workdir, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
