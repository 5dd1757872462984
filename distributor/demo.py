"""``distributor demo``: queue the bundled sample stories, post them once, show the result."""

from __future__ import annotations

import email
import email.policy
import json
from email.message import EmailMessage
from pathlib import Path

from rich.console import Console
from rich.panel import Panel

from distributor import editorial, resources
from distributor.adapter_factory import outbox_dir
from distributor.configload import LoadedConfig
from distributor.service import Service
from distributor.store import Store


def sample_files() -> list[Path]:
    return sorted(p for p in resources.samples_dir().iterdir() if p.is_file())


async def run(loaded: LoadedConfig, console: Console) -> None:
    store = await Store.open(loaded.app.store)
    try:
        options = editorial.options_for(loaded.app, store)
        outcome = await editorial.queue_files(store, sample_files(), options)
    finally:
        await store.close()
    for _, article_id, draft in outcome.queued:
        console.print(f"queued #{article_id}: {draft.title}", highlight=False, markup=False)
    for path, article_id in outcome.duplicates:
        console.print(f"already queued as #{article_id}: {Path(path).name}", highlight=False)
    report = await Service(loaded, dry_run=True).run_once()
    console.print(
        f"\nposted {report.done} deliveries ({report.failed} failed); "
        "every channel ran in dry-run mode, so nothing left this machine.\n",
        highlight=False,
    )
    folder = outbox_dir(loaded.app, Path.cwd())
    for channel in loaded.app.channels:
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
