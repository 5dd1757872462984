"""What a dry run writes for an email list: the mails live would send, for one sample reader.

A digest writes its newsletter; a follow-up writes the "Update: …" mail threaded to the
sample reader's copy of the original; ``digest preview`` shows the digest's mail.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from distributor.cli import main
from distributor.configload import LoadedConfig
from distributor.ledger import Ledger
from distributor.service import Service
from distributor.store import Store
from distributor_channels.email.message import PREVIEW_RECIPIENT, PREVIEW_UNSUBSCRIBE
from tests.conftest import FakeClock
from tests.email.world import email_config
from tests.helpers import draft, write_config

DIGEST = {"schedule": "0 7 * * *", "title": "Morning briefing", "mode": "digest"}


def dry_config(tmp_path: Path, store_url: str, **channel: Any) -> LoadedConfig:
    return write_config(tmp_path, email_config(store_url, tmp_path, None, dry_run=True, **channel))


def read(path: Path) -> EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def queue(loaded: LoadedConfig, store: Store, clock: FakeClock, n: int, **fields: Any) -> int:
    queued = await store.add_article(draft(n, publish_at=clock(), **fields))
    await Ledger(store).route_due(loaded.app.channels)
    return queued.article_id


async def run_once(loaded: LoadedConfig, clock: FakeClock, tmp_path: Path) -> None:
    await Service(loaded, dry_run=True, clock=clock, workdir=tmp_path).run_once()


async def test_a_dry_run_digest_writes_the_newsletter_live_would_mail(
    tmp_path: Path, store_url: str, store: Store, clock: FakeClock
) -> None:
    loaded = dry_config(tmp_path, store_url, digest=DIGEST)
    outbox = tmp_path / "outbox" / "newsletter"
    await run_once(loaded, clock, tmp_path)  # 09:00: the first window starts at 07:00
    await queue(loaded, store, clock, 1)
    await queue(loaded, store, clock, 2, tags=("sport",))
    clock.advance(days=1)
    await run_once(loaded, clock, tmp_path)

    (written,) = outbox.glob("*.eml")
    assert "morning-briefing" in written.name and written.name.endswith("-send.eml")
    mail = read(written)
    assert mail["Subject"] == "Morning briefing"
    assert mail["To"] == PREVIEW_RECIPIENT
    assert mail["Message-ID"] == "<d0.daily.r0@news.example.org>"
    assert mail["List-Id"] == loaded.app.channels[0].list_id  # type: ignore[union-attr]
    assert mail["List-Unsubscribe"] == f"<{PREVIEW_UNSUBSCRIBE}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = text_of(mail)
    assert "Story 1" in text and "Story 2" in text
    assert f": {PREVIEW_UNSUBSCRIBE}" in text

    # The next day's digest is a file of its own, not the first one overwritten.
    await queue(loaded, store, clock, 3)
    clock.advance(days=1)
    await run_once(loaded, clock, tmp_path)
    assert len(list(outbox.glob("*.eml"))) == 2


async def test_a_dry_run_follow_up_writes_the_threaded_update_live_would_mail(
    tmp_path: Path, store_url: str, store: Store, clock: FakeClock
) -> None:
    loaded = dry_config(tmp_path, store_url)
    outbox = tmp_path / "outbox" / "newsletter"
    original = await queue(loaded, store, clock, 1, title="Dam breaks upstream")
    await run_once(loaded, clock, tmp_path)
    (first,) = outbox.glob("*.eml")

    clock.advance(minutes=30)
    await queue(loaded, store, clock, 2, title="Water recedes", follow_up_of=original)
    await run_once(loaded, clock, tmp_path)

    (update,) = [p for p in outbox.glob("*.eml") if p != first]
    mail, before = read(update), read(first)
    assert mail["Subject"] == "Update: Water recedes"
    assert before["Message-ID"] == f"<a{original}.daily.r0@news.example.org>"
    assert mail["In-Reply-To"] == before["Message-ID"]
    assert mail["References"] == before["Message-ID"]
    assert mail["Message-ID"] != before["Message-ID"]


def test_digest_preview_shows_an_email_lists_digest_mail(tmp_path: Path) -> None:
    store_url = f"sqlite+aiosqlite:///{tmp_path / 'news.sqlite3'}"
    config = dry_config(tmp_path, store_url, digest=DIGEST).path
    story = tmp_path / "story.md"
    story.write_text("# Tide turns early\n\nThe tide turned an hour early today.\n")
    runner = CliRunner()
    queued = runner.invoke(main, ["queue", str(story), "-c", str(config)])
    assert queued.exit_code == 0, queued.output
    assert runner.invoke(main, ["run", "--once", "-c", str(config)]).exit_code == 0

    shown = runner.invoke(main, ["digest", "preview", "newsletter", "-c", str(config)])

    assert shown.exit_code == 0, shown.output
    assert "1 story listed" in shown.output
    assert "newsletter daily: Morning briefing" in shown.output
    assert "Subject: Morning briefing" in shown.output
    assert "Tide turns early" in shown.output
    assert f": {PREVIEW_UNSUBSCRIBE}" in shown.output
    assert list((tmp_path / "outbox").rglob("*.eml")) == []  # a preview sends nothing
