"""The ``distributor`` command line.

Exit codes: 0 done; 1 something could not be done (a refused file, an unreachable store);
2 the configuration or the command itself is wrong. User mistakes never show a traceback.

Starting fast: importing this module loads click and nothing heavy. Each command imports what
it uses inside its function, and a platform's commands are imported only when one runs or the
command list is shown (``clikit.RootGroup``). ``-c`` and ``-v`` come from ``clikit`` too.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from distributor import __version__, clikit
from distributor.clikit import CliState, echo, err, fail, out, pass_state, run_async

if TYPE_CHECKING:
    from distributor.dispatch import TickReport
    from distributor.store import Store


@click.group(cls=clikit.RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="distributor")
def main() -> None:
    """Queue stories; post them to Telegram, Discord and email subscribers."""


@main.command("check-config")
@pass_state
def check_config(state: CliState) -> None:
    """Validate the configuration (and its templates) without running anything."""
    from rich.markup import escape

    loaded = state.loaded
    app = loaded.app
    source = "bundled default" if loaded.bundled else str(loaded.path)
    out().print(f"[green]OK[/]: {escape(source)}: {len(app.channels)} channel(s)", highlight=False)
    for channel in app.channels:
        flags = [] if channel.enabled else ["disabled"]
        if channel.dry_run:
            flags.append("dry run")
        extra = f" ({', '.join(flags)})" if flags else ""
        echo(f"  {channel.name}: {channel.platform} → {channel.describe_target()}{extra}")
    if not app.channels:
        echo(
            "warning: no channels configured: nothing will be posted (add some under channels:)",
            error=True,
        )
    for feed in app.feeds:
        echo(f"  feed {feed.name}: {feed.url} every {feed.interval:g} s")


@main.group()
def db() -> None:
    """Database schema (SQLite is upgraded automatically)."""


@db.command("upgrade")
@pass_state
def db_upgrade(state: CliState) -> None:
    """Apply every pending migration to the configured store."""

    async def done(store: Store) -> None:
        from distributor import database

        revisions = await database.current_revisions(store.engine)
        echo(f"store is at revision {', '.join(revisions)}")

    state.with_store(done, upgrade=True)


@main.command()
@click.argument("sources", metavar="FILES_OR_URLS", nargs=-1, required=True)
@click.option(
    "--from-url",
    "from_url",
    is_flag=True,
    help="The arguments are web pages: fetch each, extract its story and queue it.",
)
@click.option("--url", help="The story's public URL (its link, and its identity for dedup).")
@click.option("--at", "at", help="When to publish: ISO time or relative ('in 2h'). Default: now.")
@click.option("--tags", help="Comma-separated tags added to the story's own.")
@click.option("--priority", type=int, help="Higher goes first; channels may filter on it.")
@click.option("--language", help="Language code (fr, en…) when the file does not say.")
@click.option(
    "--follow-up-of",
    "follow_up_of",
    type=int,
    help="An update of story ID: posted as a reply to its post on each channel it went to.",
)
@pass_state
def queue(
    state: CliState,
    sources: tuple[str, ...],
    from_url: bool,
    url: str | None,
    at: str | None,
    tags: str | None,
    priority: int | None,
    language: str | None,
    follow_up_of: int | None,
) -> None:
    """Queue story files (plain text, Markdown with front matter, or JSON), or web pages."""
    from rich.markup import escape

    from distributor import editorial

    if url and len(sources) > 1:
        fail("--url names one story; give it with a single file or page", 2)
    app = state.loaded.app
    tag_list = tuple(t.strip().lower() for t in (tags or "").split(",") if t.strip())

    async def go(store: Store) -> editorial.QueueOutcome:
        options = editorial.options_for(
            app,
            store,
            url=url,
            at=at,
            tags=tag_list,
            priority=priority,
            language=language,
            follow_up_of=follow_up_of,
        )
        if from_url:
            from distributor import extract

            return await extract.queue_urls(store, sources, options)
        return await editorial.queue_files(store, [Path(s) for s in sources], options)

    outcome = state.with_store(go)
    for _path, article_id, draft in outcome.queued:
        when = draft.publish_at.astimezone(app.zone).strftime("%Y-%m-%d %H:%M %Z")
        echo(f"queued #{article_id}: {draft.title} ({draft.language}, publish {when})")
    for path, article_id in outcome.duplicates:
        echo(f"already queued as #{article_id}: {path} (nothing to do)")
    for path, article_id, changed in outcome.updated:
        echo(f"updated #{article_id} ({path}): {'; '.join(changed)}")
    for note in outcome.notes:
        echo(f"note: {note}", error=True)
    for problem in outcome.refused:
        err().print(f"[bold red]refused:[/] {escape(problem)}", highlight=False)
    if outcome.refused:
        sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="How many recent stories to show.",
)
@pass_state
def status(state: CliState, as_json: bool, limit: int) -> None:
    """Show the queue and each story's deliveries per channel."""
    import json

    from distributor import status_report

    app = state.loaded.app
    data = state.with_store(lambda store: status_report.collect(store, app, limit))
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        status_report.render(data, app.zone, out())


@main.command()
@click.option("--once", is_flag=True, help="Process everything due now, then exit.")
@click.option("--dry-run", is_flag=True, help="Write every channel's posts to the outbox instead.")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    help="Serve /metrics, /healthz and /readyz on this port (default: metrics.port).",
)
@pass_state
def run(state: CliState, once: bool, dry_run: bool, metrics_port: int | None) -> None:
    """Run the dispatcher until SIGINT/SIGTERM (or, with --once, until nothing is due).

    With --once the exit code is 1 when a delivery failed, died or paused its channel.
    """
    import asyncio

    from distributor.progress import ProgressBars
    from distributor.service import Service, install_signal_handlers

    if not once:
        state.verbose = max(state.verbose, 1)  # a long-running worker logs its progress
    bars = ProgressBars(err())
    service = Service(state.loaded, dry_run=dry_run, progress=bars, metrics_port=metrics_port)

    async def serve() -> TickReport:
        if once:
            report = await service.run_once()
        else:
            stop = asyncio.Event()
            remove = install_signal_handlers(stop)
            try:
                report = await service.run_forever(stop)
            finally:
                remove()
        paused = f", {report.paused} paused a channel" if report.paused else ""
        echo(
            f"done: {report.done} posted/edited/deleted, {report.retrying} to retry, "
            f"{report.failed} failed{paused}"
        )
        return report

    with bars:
        report = run_async(serve())
    if once and not report.ok:
        sys.exit(1)


@main.command()
@click.argument("article_id", type=int)
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--notice",
    type=click.Choice(["silent", "note"]),
    default=None,
    help="silent: edit the posts; note: also end them with the 'Corrected' line and mail "
    "email readers who got the story a correction (default: corrections.notice)",
)
@pass_state
def correct(state: CliState, article_id: int, file: Path, notice: str | None) -> None:
    """Store FILE as the new version of ARTICLE_ID and edit every post already out."""
    from distributor import editorial

    app = state.loaded.app
    chosen = notice or app.corrections.notice

    async def go(store: Store) -> int:
        options = editorial.options_for(app, store)
        try:
            return await editorial.correct(store, article_id, file, options, notice=chosen)
        except (LookupError, ValueError) as exc:
            fail(str(exc).strip("'\""))

    edits = state.with_store(go)
    echo(f"article #{article_id} corrected; {edits} post(s) will be edited")


@main.command()
@click.argument("article_id", type=int)
@pass_state
def retract(state: CliState, article_id: int) -> None:
    """Withdraw ARTICLE_ID: delete its posts where the platform allows, send nothing more."""
    from distributor import editorial

    async def go(store: Store) -> int:
        try:
            return await editorial.retract(store, article_id)
        except LookupError as exc:
            fail(str(exc).strip("'\""))

    deletes = state.with_store(go)
    echo(f"article #{article_id} retracted; {deletes} post(s) will be deleted")


def _known_channel(state: CliState, name: str) -> None:
    if name not in {c.name for c in state.loaded.app.channels}:
        fail(f"no channel named {name!r} in the configuration", 2)


@main.command()
@click.option("--article", "article_id", type=int, help="Only this article's deliveries.")
@click.option("--channel", help="Only this channel's deliveries.")
@pass_state
def retry(state: CliState, article_id: int | None, channel: str | None) -> None:
    """Re-queue failed and dead deliveries (never ones already sent)."""
    from distributor.ledger import Ledger

    if channel is not None:
        _known_channel(state, channel)
    count = state.with_store(
        lambda store: Ledger(store).requeue(article_id=article_id, channel=channel)
    )
    echo(f"{count} deliver{'y' if count == 1 else 'ies'} re-queued")


@main.group()
def channel() -> None:
    """Channel state: list, resume a paused channel."""


@channel.command("list")
@pass_state
def channel_list(state: CliState) -> None:
    """Every configured channel: platform, target, and whether it is live, dry-run or paused."""
    paused = state.with_store(lambda store: store.paused_channels())
    for c in state.loaded.app.channels:
        shown = (
            f"paused: {paused[c.name]}"
            if c.name in paused
            else "disabled"
            if not c.enabled
            else "dry run"
            if c.dry_run
            else "live"
        )
        # Tab-separated, for people and for `cut`.
        click.echo(f"{c.name}\t{c.platform}\t{c.describe_target()}\t{shown}")


@channel.command("resume")
@click.argument("name")
@pass_state
def channel_resume(state: CliState, name: str) -> None:
    """Un-pause NAME after fixing what paused it (its queued posts then go out)."""
    _known_channel(state, name)
    # Only now: the configuration and the hooks' modules import each other, config first.
    from distributor.hooks.events import Notice

    notice = Notice("channel.resumed", {"channel": name, "actor": "cli"})
    resumed = state.with_store(lambda store: store.resume_channel(name, notice))
    echo(f"{name}: {'resumed' if resumed else 'was not paused'}")


@main.group()
def feeds() -> None:
    """Newsroom feeds: list them, poll one now."""


@feeds.command("list")
@pass_state
def feeds_list(state: CliState) -> None:
    """Every configured feed: state, last and next poll, items seen, URL, last error."""
    from distributor.feeds import status as feed_status

    app = state.loaded.app
    rows = state.with_store(lambda store: feed_status.collect(store, app.feeds))
    for line in feed_status.lines(rows, app.zone):
        click.echo(line)  # tab-separated, for people and for `cut`
    if not rows:
        echo("no feeds configured (add some under feeds:)", error=True)


@feeds.command("poll")
@click.argument("name")
@pass_state
def feeds_poll(state: CliState, name: str) -> None:
    """Poll feed NAME now, due or not, and queue its new items."""
    from distributor import wakeup
    from distributor.feeds import poller
    from distributor.feeds.fetch import FeedClient
    from distributor.ledger import Ledger
    from distributor.service import worker_id

    app = state.loaded.app
    if name not in {feed.name for feed in app.feeds}:
        fail(f"no feed named {name!r} in the configuration", 2)

    async def go(store: Store) -> poller.PollOutcome:
        async with FeedClient(clock=store.clock) as client:
            outcome = await poller.poll_one(
                store,
                app.feeds,
                name,
                owner=worker_id(),
                clock=store.clock,
                client=client,
                settings=poller.PollSettings(default_language=app.default_language),
            )
        for article_id, draft in outcome.corrections:
            try:
                await Ledger(store).correct(article_id, draft)
            except (LookupError, ValueError) as exc:  # retracted or deleted meanwhile
                echo(f"note: story #{article_id} not corrected: {exc}", error=True)
        if outcome.queued or outcome.corrections:
            await wakeup.notify(store)
        return outcome

    outcome = state.with_store(go)
    if outcome.alert is not None:  # no alerts channel here: the admin reading this is told
        echo(f"alert: {outcome.alert.title}: {outcome.alert.detail}", error=True)
    if outcome.result == poller.PollResult.BUSY:
        fail(f"{name}: another worker is polling it right now; try again shortly")
    if outcome.result == poller.PollResult.FAILED:
        fail(f"{name}: {outcome.error}")
    for note in outcome.notes:
        echo(f"note: {note}", error=True)
    echo(
        f"{name}: {outcome.result}, {len(outcome.queued)} new stor"
        f"{'y' if len(outcome.queued) == 1 else 'ies'} queued, {outcome.remembered} remembered, "
        f"{len(outcome.corrections)} corrected"
    )


def _nameserver(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "53")
    if not port.isdigit() or not 0 < int(port) < 65536:
        fail(f"--nameserver wants HOST or HOST:PORT, not {value!r}", 2)
    return host, int(port)


@main.command()
@click.option("--nameserver", help="Ask this DNS server (HOST or HOST:PORT) for SPF/DKIM/DMARC.")
@pass_state
def doctor(state: CliState, nameserver: str | None) -> None:
    """Check the store, Redis and every live channel for real, posting nothing (exit 1: trouble)."""
    from rich.table import Table
    from rich.text import Text

    from distributor import doctor as checks

    app = state.loaded.app
    options = checks.DoctorOptions(nameserver=_nameserver(nameserver))
    findings = run_async(checks.examine(app, options))
    table = Table(title="distributor doctor", title_justify="left")
    for column in ("target", "check", "", "detail"):
        table.add_column(column)
    for f in findings:
        mark = Text("ok", style="green") if f.ok else Text("FAIL", style="bold red")
        table.add_row(f.target, f.check, mark, Text(f.detail))
    out().print(table)
    failures = sum(not f.ok for f in findings)
    if failures:
        echo(f"{failures} check(s) failed", error=True)
        sys.exit(1)


@main.command()
@pass_state
def demo(state: CliState) -> None:
    """Post the bundled sample stories once, dry-run, on a throwaway store; show what went out."""
    from distributor import demo as demo_run

    run_async(demo_run.run(state.loaded, out(), Path.cwd()))


@main.command()
@click.option("--host", help="Address to listen on (default: web.host).")
@click.option("--port", type=int, help="Port (default: web.port).")
@pass_state
def web(state: CliState, host: str | None, port: int | None) -> None:
    """Serve the web service: the platforms' reader pages (email subscribe, unsubscribe)."""
    import uvicorn

    from distributor import adapter_factory
    from distributor.web import WebContext, create_app
    from distributor.web_server import server_config

    loaded = state.loaded
    settings = loaded.app.web

    async def serve(store: Store) -> None:
        outbox = adapter_factory.outbox_dir(loaded.app, Path.cwd())
        context = WebContext(loaded.app, store, loaded.renderer(), outbox, store.clock)
        try:
            application = create_app(context)
        except ValueError as exc:
            fail(str(exc), 2)
        if context.development_secret:
            echo(
                "warning: web.secret is the development default; links are forgeable and "
                "real confirmation emails are refused until you set your own secret",
                error=True,
            )
        config = server_config(
            application,
            host=host or settings.host,
            port=port if port is not None else settings.port,
            verbose=state.verbose,
        )
        echo(f"serving {settings.base_url} on {config.host}:{config.port}")
        await uvicorn.Server(config).serve()

    state.with_store(serve)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--channel", "channels", multiple=True, help="Only this channel (repeatable).")
@click.option("--tags", help="Comma-separated tags added to the story's own.")
@click.option("--priority", type=int, help="The priority it would be queued with.")
@click.option("--language", help="Language code (fr, en…) when the file does not say.")
@click.option("--payload", is_flag=True, help="Also print the exact request each would send.")
@pass_state
def preview(
    state: CliState,
    file: Path,
    channels: tuple[str, ...],
    tags: str | None,
    priority: int | None,
    language: str | None,
    payload: bool,
) -> None:
    """Show what every channel would post for FILE, without queueing or sending anything."""
    import textwrap

    from distributor import errors, ingest
    from distributor.clock import utcnow
    from distributor.preview import preview_story

    app = state.loaded.app
    for name in channels:
        _known_channel(state, name)
    now = utcnow()
    tag_list = tuple(t.strip().lower() for t in (tags or "").split(",") if t.strip())
    options = ingest.IngestOptions(
        now=now,
        zone=app.zone,
        tags=tag_list,
        priority=priority,
        language=language,
        max_bytes=app.max_article_bytes,
    )
    try:
        stories = ingest.read_file(file, options)
    except errors.IngestError as exc:
        fail(str(exc))
    wanted = [app.channel(name) for name in channels] or None
    renderer = state.loaded.renderer()
    for story in stories:
        draft = story.draft
        echo(f"{draft.title} ({draft.language}, tags: {', '.join(draft.tags) or 'none'})")
        for shown in preview_story(app, renderer, draft, now, wanted):
            heading = f"{shown.channel} ({shown.platform})"
            if shown.post is None:
                why = shown.excluded_by or shown.error
                echo(f"  {heading}: nothing posted: {why}")
                continue
            post = shown.post
            echo(f"── {heading}: {post.title} ({post.length} of {post.limit} counted)")
            echo(textwrap.indent(post.text, "   ", lambda _line: True))
            if payload:
                echo(post.payload.decode("utf-8", errors="replace"))


# Desk accounts and API tokens (``distributor users``, ``distributor tokens``).
from distributor.desk import commands as _desk_commands  # noqa: E402

main.add_command(_desk_commands.users)
main.add_command(_desk_commands.tokens)

# Channel digests (``distributor digest``).
from distributor.digest_commands import digest as _digest  # noqa: E402

main.add_command(_digest)


if __name__ == "__main__":  # pragma: no cover
    main()
