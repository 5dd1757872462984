"""How long the command line takes to start, against the bare cost of starting Python with click.

Runs each command N times as a fresh process, in a temporary folder, with the zero-config
default (an SQLite store created there, three dry-run channels):

- ``distributor status --help``: starting alone (a built-in command's help imports nothing
  heavy);
- ``distributor --help``: starting, and listing every command, which loads each platform's
  spec and imports the modules of the platforms' commands for their help lines;
- ``distributor status``: a whole command reading the store (a fresh SQLite file, created and
  migrated by an untimed warm-up run);

and prints the median wall time and CPU time (user + system) of each, with their ratios to the
baseline, ``python -c "import click"``. On a shared, busy machine wall times swing with the
load; CPU times much less.

Each command also gets one untimed warm-up run first, so compiled bytecode is in place.

    python -m bench.startup [-n 10]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DISTRIBUTOR_CONFIG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(
    argv: Sequence[str], cwd: Path, env: dict[str, str], runs: int
) -> tuple[list[float], list[float]]:
    """Wall and CPU times (ms) of ``runs`` runs of ``argv``, after one untimed warm-up run."""
    wall: list[float] = []
    cpu: list[float] = []
    for attempt in range(runs + 1):
        cpu_before = _children_cpu()
        started = time.perf_counter()
        result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
        elapsed = (time.perf_counter() - started) * 1000
        if result.returncode != 0:
            shown = " ".join(argv)
            sys.exit(f"{shown} exited {result.returncode}:\n{result.stderr.decode()}")
        if attempt:
            wall.append(elapsed)
            cpu.append((_children_cpu() - cpu_before) * 1000)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=10, help="timed runs per command")
    args = parser.parse_args()
    env = _environment()
    python = sys.executable
    cases = [
        ('python -c "import click"', [python, "-c", "import click"]),
        ("distributor status --help", [python, "-m", "distributor", "status", "--help"]),
        ("distributor --help", [python, "-m", "distributor", "--help"]),
        ("distributor status", [python, "-m", "distributor", "status"]),
    ]
    with TemporaryDirectory(prefix="distributor-startup-") as folder:
        results = {label: timed(argv, Path(folder), env, args.runs) for label, argv in cases}
    medians = {
        label: (statistics.median(wall), statistics.median(cpu))
        for label, (wall, cpu) in results.items()
    }
    base_wall, base_cpu = medians[cases[0][0]]
    print(f"startup: medians of {args.runs} runs each (a fresh process every run)")
    print(f"  {'':<26} {'wall':>9}  {'ratio':>6}   {'cpu':>9}  {'ratio':>6}")
    for label, (wall, cpu) in medians.items():
        print(
            f"  {label:<26} {wall:6.1f} ms  {wall / base_wall:5.2f}x   "
            f"{cpu:6.1f} ms  {cpu / base_cpu:5.2f}x"
        )


if __name__ == "__main__":
    main()
