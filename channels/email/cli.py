"""``distributor subscribers …``: add, import, list, remove and export the readers of a list.

``add`` and ``import`` start double opt-in by default: each new reader is pending and gets a
confirmation email (through the list's SMTP server, or into the outbox for a dry-run channel).
``--confirmed`` imports readers who already opted in elsewhere (a newsroom moving its list).
Nobody who unsubscribed or bounced is ever re-subscribed by an import.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from distributor import clikit
from distributor_channels.email import addresses
from distributor_channels.email.models import SubscriberStatus
from distributor_channels.email.topics import from_column, parse_topics

if TYPE_CHECKING:
    from distributor.configload import LoadedConfig
    from distributor.store import Store
    from distributor_channels.email.config import EmailChannelConfig
    from distributor_channels.email.subscribers import Upserted, Wanted

# `distributor --help` imports this module to show the group's help: each command imports the
# store, the web pages and the mailer it uses when it runs.

F = TypeVar("F", bound=Callable[..., Any])


def _list_option(func: F) -> F:
    return click.option(
        "--list", "list_name", help="The subscriber list (needed when several are configured)."
    )(func)


def _channel(loaded: LoadedConfig, list_name: str | None) -> EmailChannelConfig:
    from distributor_channels.email.web import lists_of

    lists = lists_of(loaded.app)
    if list_name is None:
        if len(lists) == 1:
            return next(iter(lists.values()))
        known = ", ".join(sorted(lists)) or "none configured"
        clikit.fail(f"name the list with --list (lists: {known})", 2)
    if list_name not in lists:
        clikit.fail(f"no email channel mails a list named {list_name!r}", 2)
    return lists[list_name]


@click.group(cls=clikit.Group)
def subscribers() -> None:
    """Email subscribers: add, import, list, remove, export."""


@subscribers.command("add")
@_list_option
@click.argument("emails", nargs=-1, required=True)
@click.option("--topics", help="Topics (article tags), separated by spaces or '|'. None: all.")
@click.option(
    "--confirmed",
    is_flag=True,
    help="They already opted in elsewhere: no confirmation email, mailed from the next story.",
)
@clikit.pass_state
def add(
    state: clikit.CliState,
    list_name: str | None,
    emails: tuple[str, ...],
    topics: str | None,
    confirmed: bool,
) -> None:
    """Add readers; each gets a confirmation email unless --confirmed."""
    from distributor_channels.email.subscribers import Wanted

    loaded = state.loaded
    channel = _channel(loaded, list_name)
    wanted, bad = [], []
    for typed in emails:
        try:
            address = addresses.normalise(typed)
        except addresses.InvalidAddress as exc:
            bad.append(f"{typed!r}: {exc}")
            continue
        status = SubscriberStatus.CONFIRMED if confirmed else SubscriberStatus.PENDING
        wanted.append(Wanted(address, parse_topics(topics) if topics is not None else None, status))
    for problem in bad:
        clikit.echo(f"refused: {problem}", error=True)
    if wanted:
        results = state.with_store(
            lambda store: _upsert(loaded, store, channel, wanted, True, "cli")
        )
        _report(results)
    if bad:
        sys.exit(1)


@subscribers.command("import")
@_list_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--confirmed",
    is_flag=True,
    help="Rows without a status (or 'confirmed') are already confirmed: no confirmation emails.",
)
@clikit.pass_state
def import_(
    state: clikit.CliState,
    list_name: str | None,
    file: Path,
    confirmed: bool,
) -> None:
    """Import readers from a CSV file (columns: email, topics, status)."""
    from distributor_channels.email import csvio
    from distributor_channels.email.subscribers import Wanted

    loaded = state.loaded
    channel = _channel(loaded, list_name)
    read = csvio.read_rows(file.read_text(encoding="utf-8-sig"), str(file))
    wanted = [
        Wanted(row.address, row.topics, _import_status(row.status, confirmed)) for row in read.rows
    ]
    for problem in read.problems:
        clikit.echo(f"refused: {problem}", error=True)
    if read.duplicates:
        clikit.echo(f"note: {read.duplicates} duplicate row(s) skipped", error=True)
    results = state.with_store(
        lambda store: _upsert(loaded, store, channel, wanted, False, "import")
    )
    _report(results)
    if read.problems:
        sys.exit(1)


def _import_status(status: str | None, confirmed: bool) -> str:
    if status in (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED):
        return status
    if confirmed and status in (None, SubscriberStatus.CONFIRMED):
        return SubscriberStatus.CONFIRMED
    return SubscriberStatus.PENDING  # double opt-in: a CSV saying "confirmed" proves nothing


async def _upsert(
    loaded: LoadedConfig,
    store: Store,
    channel: EmailChannelConfig,
    wanted: Sequence[Wanted],
    reopen: bool,
    source: str,
) -> list[tuple[Upserted, str]]:
    from distributor_channels.email import optin
    from distributor_channels.email.subscribers import Subscribers

    book = Subscribers(store)
    results = await book.upsert(channel.list_name, wanted, source=source, reopen=reopen)
    done: list[tuple[Upserted, str]] = []
    for result in results:
        note = ""
        if result.send_confirmation:
            await optin.queue(store, result.subscriber.id, channel.list_name)
            note = "confirmation email queued (`distributor run` sends it)"
        done.append((result, note))
    return done


def _report(results: Sequence[tuple[Upserted, str]]) -> None:
    for result, note in results:
        reader = result.subscriber
        extra = f"; {note}" if note else ""
        clikit.echo(f"{reader.address}: {result.outcome}, {reader.status}{extra}")
    counts: dict[str, int] = {}
    for result, _ in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    clikit.echo(f"{len(results)} reader(s): {summary or 'nothing to do'}")


@subscribers.command("list")
@_list_option
@click.option("--status", type=click.Choice(SubscriberStatus.ALL), help="Only this status.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@clikit.pass_state
def list_(
    state: clikit.CliState,
    list_name: str | None,
    status: str | None,
    as_json: bool,
) -> None:
    """Show the readers of a list and their status."""
    from distributor_channels.email.subscribers import Subscribers

    loaded = state.loaded
    channel = _channel(loaded, list_name)
    from distributor_channels.email.suppression import counts

    readers = state.with_store(lambda store: Subscribers(store).listing(channel.list_name, status))
    events = state.with_store(lambda store: counts(store, channel.list_name))
    if as_json:
        rows = [
            {
                "id": r.id,
                "email": r.address,
                "status": r.status,
                "topics": from_column(r.topics),
                "created_at": r.created_at.isoformat(),
                "why": r.last_error,
            }
            for r in readers
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    zone = loaded.app.zone
    for r in readers:
        topics = ", ".join(from_column(r.topics)) or "all topics"
        since = r.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        why = f" — {r.last_error}" if r.last_error else ""
        clikit.echo(f"{r.address}  {r.status}  ({topics}; since {since}){why}")
    clikit.echo(f"{len(readers)} reader(s) on list {channel.list_name}")
    clikit.echo(
        f"bounces: {events['hard']} hard, {events['soft']} soft; "
        f"complaints: {events['complaint']}; unsubscribed by mail: {events['unsubscribe']}"
    )


@subscribers.command("remove")
@_list_option
@click.argument("emails", nargs=-1, required=True)
@click.option("--forget", is_flag=True, help="Delete them and their send history (erasure).")
@clikit.pass_state
def remove(
    state: clikit.CliState,
    list_name: str | None,
    emails: tuple[str, ...],
    forget: bool,
) -> None:
    """Unsubscribe readers (kept so no import re-adds them), or --forget them entirely."""
    from distributor_channels.email.subscribers import Subscribers

    loaded = state.loaded
    channel = _channel(loaded, list_name)
    found = []

    async def go(store: Store) -> None:
        book = Subscribers(store)
        for typed in emails:
            try:
                address = addresses.normalise(typed)
            except addresses.InvalidAddress:
                address = typed.strip().lower()
            found.append((address, await book.remove(channel.list_name, address, forget=forget)))

    state.with_store(go)
    for address, removed in found:
        verb = "forgotten" if forget else "unsubscribed"
        clikit.echo(f"{address}: {verb if removed else 'not on the list'}")
    if not all(removed for _, removed in found):
        sys.exit(1)


@subscribers.command("export")
@_list_option
@click.option("--status", type=click.Choice(SubscriberStatus.ALL), help="Only this status.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File (default: stdout).",
)
@clikit.pass_state
def export(
    state: clikit.CliState,
    list_name: str | None,
    status: str | None,
    output: Path | None,
) -> None:
    """Write the list as CSV (email, topics, status, dates); ``import`` reads it back."""
    from distributor_channels.email import csvio
    from distributor_channels.email.subscribers import Subscribers

    loaded = state.loaded
    channel = _channel(loaded, list_name)
    readers = state.with_store(lambda store: Subscribers(store).listing(channel.list_name, status))
    text = csvio.write_rows(readers)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        clikit.echo(f"{len(readers)} reader(s) written to {output}")
