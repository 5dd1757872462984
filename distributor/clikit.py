"""What every ``distributor`` command shares: the ``-c``/``-v`` options, the state, the output.

``--log-format`` is declared with them, the same way.

``-c/--config`` and ``-v/--verbose`` are declared once (``config_options``) and accepted by every
group and command built with this module's ``Group``/``Command``, before or after the command
name: ``distributor -c x.yaml status`` and ``distributor status -c x.yaml`` are the same. What
they say lands on the ``CliState`` in the click context; a command takes it with ``@pass_state``
and reads ``state.loaded``, loaded on first use. A platform's commands (``PlatformSpec.commands``)
are built the same way, from this module, and found by ``RootGroup`` only when needed.

Importing this module loads click and nothing heavy: each helper imports what it uses.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Coroutine
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from distributor import errors

if TYPE_CHECKING:
    from rich.console import Console

    from distributor.configload import LoadedConfig
    from distributor.store import Store

T = TypeVar("T")


# -- output ---------------------------------------------------------------------------------


@cache
def _console(stderr: bool) -> Console:
    from rich.console import Console  # rich costs as much as click: only when printing

    stream = sys.stderr if stderr else sys.stdout
    # Piped output (a log, `| less`) gets a wide fixed width instead of a cramped 80 columns.
    return Console(stderr=stderr, soft_wrap=True, width=None if stream.isatty() else 160)


def out() -> Console:
    """The rich console on stdout."""
    return _console(False)


def err() -> Console:
    """The rich console on stderr."""
    return _console(True)


def echo(text: str, *, error: bool = False) -> None:
    """Print ``text`` as it is (no markup, no highlighting) on stdout, or stderr."""
    (err() if error else out()).print(text, highlight=False, markup=False)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` (secrets masked) on stderr and exit with ``code``."""
    from rich.markup import escape

    from distributor import logs

    err().print(f"[bold red]error:[/] {escape(logs.REDACTOR.scrub(message))}", highlight=False)
    sys.exit(code)


def _config_failed(exc: errors.ConfigError) -> NoReturn:
    from distributor import logs

    err().print("[bold red]configuration error:[/]", highlight=False)
    for issue in exc.issues:
        echo(f"  {logs.REDACTOR.scrub(issue)}", error=True)
    sys.exit(2)


def _is_database_failure(exc: BaseException) -> bool:
    # Only a command that opened the store can raise one; never import SQLAlchemy to ask.
    exceptions = sys.modules.get("sqlalchemy.exc")
    return exceptions is not None and isinstance(exc, exceptions.SQLAlchemyError)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro``; the errors a user can act on become a message and an exit code."""
    import asyncio

    try:
        return asyncio.run(coro)
    except errors.ConfigError as exc:
        _config_failed(exc)
    except (errors.StoreError, errors.IngestError, errors.TemplateError) as exc:
        fail(str(exc))
    except Exception as exc:
        if _is_database_failure(exc):
            # A StoreError drops SQLAlchemy's link to its docs from the message.
            fail(str(errors.StoreError(f"the store failed: {type(exc).__name__}: {exc}")))
        raise


# -- state and the shared options -------------------------------------------------------------


class CliState:
    """What ``-c`` and ``-v`` said, wherever they were given, and the config they name.

    Attributes:
        config_path: ``-c``; None means ``$DISTRIBUTOR_CONFIG``, else the bundled default.
        verbose: how many ``-v`` (the most given at one place); a command may raise it before
            it first reads ``loaded``, which sets up logging.
    """

    def __init__(self) -> None:
        self.config_path: Path | None = None
        self.verbose = 0
        self.log_format = "text"

    @cached_property
    def loaded(self) -> LoadedConfig:
        """The configuration, loaded once on first use; its errors exit 2, listed."""
        from distributor import logs
        from distributor.configload import load_config

        try:
            loaded = load_config(self.config_path)
        except errors.ConfigError as exc:
            _config_failed(exc)
        logs.setup(self.verbose, loaded.secrets(), self.log_format)
        return loaded

    def with_store(
        self, work: Callable[[Store], Awaitable[T]], *, upgrade: bool | None = None
    ) -> T:
        """Open the configured store, run ``work`` on it, close it; errors as ``run_async``."""
        from distributor.store import Store

        loaded = self.loaded

        async def run() -> T:
            store = await Store.open(loaded.app.store, auto_upgrade=upgrade)
            store.hooks = loaded.app.hooks
            try:
                return await work(store)
            finally:
                await store.close()

        return run_async(run())


pass_state = click.make_pass_decorator(CliState, ensure=True)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    state = ctx.ensure_object(CliState)
    if param.name == "config_path" and value is not None:
        state.config_path = value  # the one nearest the command wins
    elif param.name == "verbose":
        state.verbose = max(state.verbose, value or 0)
    elif param.name == "log_format" and value is not None:
        state.log_format = value


def config_options() -> list[click.Parameter]:
    """``-c/--config`` and ``-v/--verbose``: their only declaration; they fill ``CliState``."""
    return [
        click.Option(
            ["-c", "--config", "config_path"],
            type=click.Path(dir_okay=False, path_type=Path),
            expose_value=False,
            callback=_remember,
            help="YAML config (default: $DISTRIBUTOR_CONFIG, else the bundled zero-config "
            "default).",
        ),
        click.Option(
            ["-v", "--verbose"],
            count=True,
            expose_value=False,
            callback=_remember,
            help="-v shows progress, -vv everything (DEBUG).",
        ),
        click.Option(
            ["--log-format", "log_format"],
            type=click.Choice(["text", "json"]),
            expose_value=False,
            callback=_remember,
            help="text (default), or json: one object per event for log shippers.",
        ),
    ]


class Command(click.Command):
    """A command that accepts ``-c`` and ``-v`` among its own options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(config_options())


class Group(click.Group):
    """A group whose commands and subgroups (and itself) accept ``-c`` and ``-v``."""

    command_class = Command
    group_class: type[click.Group | type] | None = type  # subgroups are of this class too

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(config_options())


class RootGroup(Group):
    """The built-in commands, and each installed platform's, imported only when needed.

    A built-in command wins over a platform command of the same name, and the first platform
    (by name) over a later one.
    """

    group_class = Group

    def _platform_commands(self) -> dict[str, str]:
        from distributor import registry

        found: dict[str, str] = {}
        for spec in registry.installed():
            for name, target in spec.commands.items():
                found.setdefault(name, target)
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self._platform_commands()})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing a platform command by its declared one-liner, not by importing it: `--help`
        # would otherwise load the platform's tables and client code.
        from distributor import registry

        declared: dict[str, str] = {}
        for spec in registry.installed():
            for name, line in spec.command_help.items():
                declared.setdefault(name, line)
        rows = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is not None:
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(formatter.width)))
            elif name in declared:
                rows.append((name, declared[name]))
            else:
                loaded = self.get_command(ctx, name)
                if loaded is not None and not loaded.hidden:
                    rows.append((name, loaded.get_short_help_str(formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        built_in = self.commands.get(cmd_name)
        if built_in is not None:
            return built_in
        target = self._platform_commands().get(cmd_name)
        if target is None:
            return None
        from distributor import registry

        command = registry.load_attribute(target)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command
