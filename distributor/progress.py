"""A progress bar for long sends (an email fan-out to a large list), fed by the adapters."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeRemainingColumn


class ProgressBars:
    """One bar per (channel, delivery) long enough to deserve one; a ``ProgressSink``."""

    MIN_TOTAL = 50  # a handful of recipients needs no bar

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            "[bold]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[tuple[str, str], TaskID] = {}

    def update(self, channel: str, key: str, done: int, total: int) -> None:
        if total < self.MIN_TOTAL:
            return
        task = self.tasks.get((channel, key))
        if task is None:
            task = self.progress.add_task(f"{channel} {key}", total=total)
            self.tasks[(channel, key)] = task
        self.progress.update(task, completed=done, total=total)

    def __enter__(self) -> ProgressBars:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.progress.stop()
