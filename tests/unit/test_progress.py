from __future__ import annotations

import io

from rich.console import Console

from distributor.progress import ProgressBars


def test_bars_only_for_long_sends_and_they_track_progress() -> None:
    bars = ProgressBars(Console(file=io.StringIO()))
    with bars:
        bars.update("newsletter", "a1d1", 3, 10)  # too short for a bar
        bars.update("newsletter", "a2d2", 100, 2000)
        bars.update("newsletter", "a2d2", 1500, 2000)
    assert list(bars.tasks) == [("newsletter", "a2d2")]
    task = bars.progress.tasks[0]
    assert (task.completed, task.total) == (1500, 2000)
