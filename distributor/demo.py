"""``distributor demo``: queue the bundled sample stories, post them once, show the result.

A demo never touches a newsroom's queue and never posts: every channel runs dry (into an
outbox), and the store is the demo's own. The zero-config default already is such a setup (an
SQLite file and ``./outbox`` in the current directory), so it runs as it is; any other
configuration (``-c``, ``$DISTRIBUTOR_CONFIG``) keeps its channels and templates but gets
``./distributor-demo/`` for its store and outbox, and no Redis.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

from rich.console import Console
from rich.panel import Panel

from distributor import editorial, resources
from distributor.adapter_factory import outbox_dir
from distributor.config import StoreConfig
from distributor.configload import LoadedConfig
from distributor.service import Service
from distributor.store import Store

DEMO_FOLDER = "distributor-demo"


def sample_files() -> list[Path]:
    return sorted(p for p in resources.samples_dir().iterdir() if p.is_file())


def sandbox(loaded: LoadedConfig, workdir: Path) -> LoadedConfig:
    """The configuration the demo runs with: a throwaway SQLite store, every channel dry-run."""
    channels = tuple(c.model_copy(update={"dry_run": True}) for c in loaded.app.channels)
    if loaded.bundled:
        return replace(loaded, app=loaded.app.model_copy(update={"channels": channels}))
    folder = workdir / DEMO_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    app = loaded.app.model_copy(
        update={
            "store": StoreConfig(url=f"sqlite+aiosqlite:///{folder / 'demo.sqlite3'}"),
            "redis": None,  # shared rate limits belong to the real workers
            "outbox_dir": str(folder / "outbox"),
            "channels": channels,
        }
    )
    return replace(loaded, app=app)


def _shown(path: Path, workdir: Path) -> str:
    return os.path.relpath(path, workdir) if path.is_relative_to(workdir) else str(path)


async def run(loaded: LoadedConfig, console: Console, workdir: Path) -> None:
    """Queue the samples on the demo's own store, post them dry-run, show each channel's last."""
    demo = sandbox(loaded, workdir)
    folder = outbox_dir(demo.app, workdir)
    dry = f"every channel in dry-run mode, posts written under {_shown(folder, workdir)}"
    if loaded.bundled:
        console.print(
            f"demo: the zero-config default: a local SQLite store, {dry}.\n",
            highlight=False,
            markup=False,
        )
    else:
        store_file = _shown(workdir / DEMO_FOLDER / "demo.sqlite3", workdir)
        console.print(
            f"demo: a throwaway store ({store_file}), {dry}; the store and channels configured "
            f"in {loaded.path} are not touched.\n",
            highlight=False,
            markup=False,
        )
    store = await Store.open(demo.app.store)
    try:
        options = editorial.options_for(demo.app, store)
        outcome = await editorial.queue_files(store, sample_files(), options)
    finally:
        await store.close()
    for _, article_id, draft in outcome.queued:
        console.print(f"queued #{article_id}: {draft.title}", highlight=False, markup=False)
    for path, article_id in outcome.duplicates:
        console.print(f"already queued as #{article_id}: {Path(path).name}", highlight=False)
    report = await Service(demo, dry_run=True, workdir=workdir).run_once()
    console.print(
        f"\nposted {report.done} deliveries ({report.failed} failed); "
        "every channel ran in dry-run mode, so nothing left this machine.\n",
        highlight=False,
    )
    for channel in demo.app.channels:
        files = sorted((folder / channel.name).glob("*-send.*"))
        if not files:
            continue
        where = folder / channel.name
        console.print(
            f"[bold]{channel.name}[/] ({channel.platform}): {len(files)} file(s) in {where}",
            highlight=False,
        )
        console.print(
            Panel(_preview(files[-1]), title=files[-1].name, expand=False), soft_wrap=False
        )


def _preview(path: Path) -> str:
    content = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".json":
        data = json.loads(content)
        params = data.get("params") or data.get("payload") or data
        text = params.get("caption") or params.get("text")
        if text is None and "embeds" in params:
            embed = params["embeds"][0]
            text = f"{embed.get('title')}\n\n{embed.get('description')}"
        return str(text if text is not None else content)[:1500]
    message = email.message_from_string(content, policy=email.policy.default)
    if not isinstance(message, EmailMessage):
        return content[:1500]
    text = message.get_body(preferencelist=("plain",))
    body = text.get_content() if isinstance(text, EmailMessage) else ""
    shown = ("To", "Subject", "List-Unsubscribe")
    headers = "\n".join(f"{name}: {message[name]}" for name in shown if message[name])
    return f"{headers}\n\n{body}"[:1500]
