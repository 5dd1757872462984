"""``distributor digest preview CHANNEL`` and ``distributor digest send CHANNEL --now``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from distributor import clikit
from distributor.clikit import CliState, echo, fail, pass_state, run_async

if TYPE_CHECKING:
    from distributor.store import Store


def _digest_channel(state: CliState, name: str) -> None:
    channels = {c.name: c for c in state.loaded.app.channels}
    if name not in channels:
        fail(f"no channel named {name!r} in the configuration", 2)
    if channels[name].digest is None:
        fail(f"channel {name!r} has no `digest` in the configuration", 2)


@click.group(cls=clikit.Group)
def digest() -> None:
    """Channel digests: preview the next one, send one now."""


@digest.command("preview")
@click.argument("channel")
@pass_state
def digest_preview(state: CliState, channel: str) -> None:
    """Show what CHANNEL's next digest would list if it were sent now (sends nothing)."""
    from distributor import registry
    from distributor.digests import Digests, render_digest

    _digest_channel(state, channel)
    app = state.loaded.app
    config = app.channel(channel)
    renderer = state.loaded.renderer()

    async def build(store: Store) -> None:
        digests = Digests(app, store, {}, renderer, owner="preview")
        start, closes = await digests.next_window(config)
        view, message = await digests.build(config, start, store.clock())
        scheduled = closes.isoformat() if closes else "never (the schedule has no next time)"
        echo(f"{channel}: window from {start.isoformat()}, scheduled at {scheduled}")
        echo(f"{len(view.items)} stor{'y' if len(view.items) == 1 else 'ies'} listed")
        if message is None:
            echo("nothing would be posted (the window is empty and `empty: skip`)")
            return
        spec = registry.get(config.platform)
        shown = spec.preview(
            config, render_digest(config, renderer, view), spec.builder(config, renderer)
        )
        echo(f"── {shown.title} ({shown.length} of {shown.limit} counted)")
        echo(shown.text)

    state.with_store(build)


@digest.command("send")
@click.argument("channel")
@click.option("--now", "now", is_flag=True, required=True, help="Send it now (required).")
@pass_state
def digest_send(state: CliState, channel: str, now: bool) -> None:
    """Send CHANNEL's digest of everything since its previous one now; a new window starts."""
    from distributor import errors
    from distributor.service import Service

    _digest_channel(state, channel)
    service = Service(state.loaded)

    async def send() -> str:
        await service.start()
        try:
            running = service._started()
            assert running.digests is not None
            outcome = await running.digests.send_now(state.loaded.app.channel(channel))
        except errors.DistributorError as exc:
            fail(str(exc), 1)
        finally:
            await service.close()
        detail = f": {outcome.error}" if outcome.error else ""
        return f"{channel}: digest {outcome.status}, {outcome.items} stories{detail}"

    echo(run_async(send()))
