"""The ``distributor`` command line.

Exit codes: 0 done; 1 something could not be done (a refused file, an unreachable store);
2 the configuration or the command itself is wrong. User mistakes never show a traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from rich.console import Console

from distributor import __version__, editorial, errors, logs
from distributor.configload import LoadedConfig, load_config
from distributor.ledger import Ledger
from distributor.store import Store

P = ParamSpec("P")
T = TypeVar("T")

# Piped output (a log, `| less`) gets a wide fixed width instead of a cramped 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {logs.REDACTOR.scrub(message)}", highlight=False)
    sys.exit(code)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except errors.ConfigError as exc:
        err.print("[bold red]configuration error:[/]", highlight=False)
        for issue in exc.issues:
            err.print(f"  {logs.REDACTOR.scrub(issue)}", highlight=False, markup=False)
        sys.exit(2)
    except (errors.StoreError, errors.IngestError, errors.TemplateError) as exc:
        fail(str(exc))
        raise  # unreachable: fail() exits


def config_option(func: Callable[P, T]) -> Callable[P, T]:
    """``-c/--config`` and ``-v`` on every command, as well as before it."""
    func = click.option(
        "-v", "--verbose", count=True, help="-v shows progress, -vv everything (DEBUG)."
    )(func)
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="YAML config (default: $DISTRIBUTOR_CONFIG, else the bundled zero-config default).",
    )(func)


def load(ctx: click.Context, config_path: Path | None, verbose: int) -> LoadedConfig:
    root = ctx.find_root().params
    config_path = config_path or root.get("config_path")
    verbose = max(verbose, root.get("verbose") or 0)
    try:
        loaded = load_config(config_path)
    except errors.ConfigError as exc:
        err.print("[bold red]configuration error:[/]", highlight=False)
        for issue in exc.issues:
            err.print(f"  {issue}", highlight=False, markup=False)
        sys.exit(2)
    logs.setup(verbose, loaded.secrets())
    return loaded


def with_store(
    func: Callable[[Store], Awaitable[T]], loaded: LoadedConfig, *, upgrade: bool | None = None
) -> T:
    async def run() -> T:
        store = await Store.open(loaded.app.store, auto_upgrade=upgrade)
        try:
            return await func(store)
        finally:
            await store.close()

    return run_async(run())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="distributor")
@config_option
def main(config_path: Path | None, verbose: int) -> None:
    """Queue stories; post them to Telegram, Discord and email subscribers."""


@main.command("check-config")
@config_option
@click.pass_context
def check_config(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """Validate the configuration (and its templates) without running anything."""
    loaded = load(ctx, config_path, verbose)
    app = loaded.app
    source = "bundled default" if loaded.bundled else str(loaded.path)
    out.print(f"[green]OK[/]: {source}: {len(app.channels)} channel(s)", highlight=False)
    for channel in app.channels:
        flags = [] if channel.enabled else ["disabled"]
        if channel.dry_run:
            flags.append("dry run")
        extra = f" ({', '.join(flags)})" if flags else ""
        out.print(
            f"  {channel.name}: {channel.platform} → {channel.describe_target()}{extra}",
            highlight=False,
            markup=False,
        )


@main.group()
def db() -> None:
    """Database schema (SQLite is upgraded automatically)."""


@db.command("upgrade")
@config_option
@click.pass_context
def db_upgrade(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """Apply every pending migration to the configured store."""
    loaded = load(ctx, config_path, verbose)

    async def done(store: Store) -> None:
        from distributor import database

        revisions = await database.current_revisions(store.engine)
        out.print(f"store is at revision {', '.join(revisions)}", highlight=False)

    with_store(done, loaded, upgrade=True)


@main.command()
@config_option
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--url", help="The story's public URL (its link, and its identity for dedup).")
@click.option("--at", "at", help="When to publish: ISO time or relative ('in 2h'). Default: now.")
@click.option("--tags", help="Comma-separated tags added to the story's own.")
@click.option("--priority", type=int, help="Higher goes first; channels may filter on it.")
@click.option("--language", help="Language code (fr, en…) when the file does not say.")
@click.pass_context
def queue(
    ctx: click.Context,
    config_path: Path | None,
    verbose: int,
    files: tuple[Path, ...],
    url: str | None,
    at: str | None,
    tags: str | None,
    priority: int | None,
    language: str | None,
) -> None:
    """Queue story files (plain text, Markdown with front matter, or JSON)."""
    loaded = load(ctx, config_path, verbose)
    if url and len(files) > 1:
        fail("--url names one story; give it with a single file", 2)
    tag_list = tuple(t.strip().lower() for t in (tags or "").split(",") if t.strip())

    async def go(store: Store) -> editorial.QueueOutcome:
        options = editorial.options_for(
            loaded.app,
            store,
            url=url,
            at=at,
            tags=tag_list,
            priority=priority,
            language=language,
        )
        return await editorial.queue_files(store, files, options)

    outcome = with_store(go, loaded)
    zone = loaded.app.zone
    for _path, article_id, draft in outcome.queued:
        when = draft.publish_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        out.print(
            f"queued #{article_id}: {draft.title} ({draft.language}, publish {when})",
            highlight=False,
            markup=False,
        )
    for path, article_id in outcome.duplicates:
        out.print(f"already queued as #{article_id}: {path} (nothing to do)", highlight=False)
    for note in outcome.notes:
        err.print(f"note: {note}", highlight=False, markup=False)
    for problem in outcome.refused:
        err.print(f"[bold red]refused:[/] {problem}", highlight=False)
    if outcome.refused:
        sys.exit(1)


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=50, show_default=True, help="How many recent stories to show.")
@click.pass_context
def status(
    ctx: click.Context, config_path: Path | None, verbose: int, as_json: bool, limit: int
) -> None:
    """Show the queue and each story's deliveries per channel."""
    from distributor import status_report

    loaded = load(ctx, config_path, verbose)
    data = with_store(lambda store: status_report.collect(store, loaded.app, limit), loaded)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        status_report.render(data, loaded.app.zone, out)


@main.command()
@config_option
@click.option("--once", is_flag=True, help="Process everything due now, then exit.")
@click.option("--dry-run", is_flag=True, help="Write every channel's posts to the outbox instead.")
@click.pass_context
def run(
    ctx: click.Context, config_path: Path | None, verbose: int, once: bool, dry_run: bool
) -> None:
    """Run the dispatcher until SIGINT/SIGTERM (or, with --once, until nothing is due)."""
    from distributor.progress import ProgressBars
    from distributor.service import Service, install_signal_handlers

    loaded = load(ctx, config_path, max(verbose, 0 if once else 1))
    bars = ProgressBars(err)
    service = Service(loaded, dry_run=dry_run, progress=bars)

    async def serve() -> None:
        if once:
            report = await service.run_once()
        else:
            stop = asyncio.Event()
            remove = install_signal_handlers(stop)
            try:
                report = await service.run_forever(stop)
            finally:
                remove()
        out.print(
            f"done: {report.done} posted/edited/deleted, {report.retrying} to retry, "
            f"{report.failed} failed",
            highlight=False,
        )

    with bars:
        run_async(serve())


@main.command()
@config_option
@click.argument("article_id", type=int)
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_context
def correct(
    ctx: click.Context, config_path: Path | None, verbose: int, article_id: int, file: Path
) -> None:
    """Store FILE as the new version of ARTICLE_ID and edit every post already out."""
    loaded = load(ctx, config_path, verbose)

    async def go(store: Store) -> int:
        options = editorial.options_for(loaded.app, store)
        try:
            return await editorial.correct(store, article_id, file, options)
        except (LookupError, ValueError) as exc:
            fail(str(exc).strip("'\""))
            raise

    edits = with_store(go, loaded)
    out.print(f"article #{article_id} corrected; {edits} post(s) will be edited", highlight=False)


@main.command()
@config_option
@click.argument("article_id", type=int)
@click.pass_context
def retract(ctx: click.Context, config_path: Path | None, verbose: int, article_id: int) -> None:
    """Withdraw ARTICLE_ID: delete its posts where the platform allows, send nothing more."""
    loaded = load(ctx, config_path, verbose)

    async def go(store: Store) -> int:
        try:
            return await editorial.retract(store, article_id)
        except LookupError as exc:
            fail(str(exc).strip("'\""))
            raise

    deletes = with_store(go, loaded)
    out.print(
        f"article #{article_id} retracted; {deletes} post(s) will be deleted", highlight=False
    )


@main.command()
@config_option
@click.option("--article", "article_id", type=int, help="Only this article's deliveries.")
@click.option("--channel", help="Only this channel's deliveries.")
@click.pass_context
def retry(
    ctx: click.Context,
    config_path: Path | None,
    verbose: int,
    article_id: int | None,
    channel: str | None,
) -> None:
    """Re-queue failed and dead deliveries (never ones already sent)."""
    loaded = load(ctx, config_path, verbose)
    count = with_store(
        lambda store: Ledger(store).requeue(article_id=article_id, channel=channel), loaded
    )
    out.print(f"{count} deliver{'y' if count == 1 else 'ies'} re-queued", highlight=False)


@main.group()
def channel() -> None:
    """Channel state: list, resume a paused channel."""


@channel.command("list")
@config_option
@click.pass_context
def channel_list(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """Every configured channel: platform, target, and whether it is live, dry-run or paused."""
    loaded = load(ctx, config_path, verbose)
    paused = with_store(lambda store: store.paused_channels(), loaded)
    for c in loaded.app.channels:
        state = (
            f"paused: {paused[c.name]}"
            if c.name in paused
            else "disabled"
            if not c.enabled
            else "dry run"
            if c.dry_run
            else "live"
        )
        # Tab-separated, for people and for `cut`.
        click.echo(f"{c.name}\t{c.platform}\t{c.describe_target()}\t{state}")


@channel.command("resume")
@config_option
@click.argument("name")
@click.pass_context
def channel_resume(ctx: click.Context, config_path: Path | None, verbose: int, name: str) -> None:
    """Un-pause NAME after fixing what paused it (its queued posts then go out)."""
    loaded = load(ctx, config_path, verbose)
    if name not in {c.name for c in loaded.app.channels}:
        fail(f"no channel named {name!r} in the configuration", 2)
    resumed = with_store(lambda store: store.resume_channel(name), loaded)
    out.print(f"{name}: {'resumed' if resumed else 'was not paused'}", highlight=False)


@main.command()
@config_option
@click.pass_context
def demo(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """Queue the bundled sample stories and post them once, then show what went out."""
    from distributor import demo as demo_run

    loaded = load(ctx, config_path, verbose)
    run_async(demo_run.run(loaded, out))


@main.command()
@config_option
@click.option("--host", help="Address to listen on (default: web.host).")
@click.option("--port", type=int, help="Port (default: web.port).")
@click.pass_context
def web(
    ctx: click.Context, config_path: Path | None, verbose: int, host: str | None, port: int | None
) -> None:
    """Serve the web service: the platforms' reader pages (email subscribe, unsubscribe)."""
    import uvicorn

    from distributor import adapter_factory
    from distributor.web import WebContext, create_app

    loaded = load(ctx, config_path, verbose)
    settings = loaded.app.web

    async def serve(store: Store) -> None:
        outbox = adapter_factory.outbox_dir(loaded.app, Path.cwd())
        context = WebContext(loaded.app, store, loaded.renderer(), outbox, store.clock)
        try:
            application = create_app(context)
        except ValueError as exc:
            fail(str(exc), 2)
            raise
        if context.development_secret:
            err.print(
                "warning: web.secret is the development default; links are forgeable and "
                "real confirmation emails are refused until you set your own secret",
                highlight=False,
            )
        config = uvicorn.Config(
            application,
            host=host or settings.host,
            port=port if port is not None else settings.port,
            access_log=False,  # the URLs carry readers' tokens
            log_level="debug" if verbose >= 2 else "warning",
            server_header=False,
            proxy_headers=True,
        )
        out.print(f"serving {settings.base_url} on {config.host}:{config.port}", highlight=False)
        await uvicorn.Server(config).serve()

    with_store(serve, loaded)


def _register_platform_commands() -> None:
    # Interim: the lazy root group replaces this (commands declared on each platform's spec).
    from distributor import registry

    for spec in registry.installed():
        for target in spec.commands.values():
            main.add_command(registry.load_attribute(target))


_register_platform_commands()


if __name__ == "__main__":  # pragma: no cover
    main()
