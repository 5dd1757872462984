"""Queue → route → render → outbox, end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import timedelta
from pathlib import Path

from distributor import editorial
from distributor.models import DeliveryStatus
from distributor.resources import samples_dir
from distributor.service import Service
from distributor.store import Store
from tests.conftest import FakeClock
from tests.helpers import outbox_config, write_config

SAMPLE = samples_dir() / "pont-saone.fr.txt"
URL = "https://news.example.org/lyon/passerelle"


async def queue(loaded, clock: FakeClock, *paths: Path, **cli: object):  # type: ignore[no-untyped-def]
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        options = editorial.options_for(loaded.app, store, **cli)
        return await editorial.queue_files(store, paths, options)
    finally:
        await store.close()


async def deliveries(loaded, clock: FakeClock):  # type: ignore[no-untyped-def]
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        articles = await store.recent_articles()
        return await store.deliveries_for([a.id for a in articles])
    finally:
        await store.close()


def files(tmp_path: Path, channel: str, pattern: str = "*") -> list[Path]:
    return sorted((tmp_path / "outbox" / channel).glob(pattern))


async def test_sample_story_reaches_every_channel_summarised_and_linked(
    store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    loaded = write_config(tmp_path, outbox_config(store_url, tmp_path))
    outcome = await queue(loaded, clock, SAMPLE, url=URL)
    assert len(outcome.queued) == 1
    report = await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    assert report.done == 3 and report.failed == 0

    [tg_file] = files(tmp_path, "telegram")
    telegram = json.loads(tg_file.read_text())
    text = telegram["params"]["text"]
    assert telegram["method"] == "sendMessage"
    [dc_file] = files(tmp_path, "discord")
    embed = json.loads(dc_file.read_text())["payload"]["embeds"][0]
    [eml] = files(tmp_path, "email")
    mail = eml.read_text()

    first_sentence = "La passerelle Jeanne-Barret a été ouverte au public samedi matin"
    for rendered in (text, embed["description"], mail):
        assert first_sentence in rendered
        assert "Tu as aimé" not in rendered and "rejoins-nous sur nos différents" not in rendered
        assert URL in rendered
    # Each platform links the *other* channels.
    assert "discord.gg/newsroom" in text and "t.me/newsroom" not in text
    assert "t.me/newsroom" in embed["description"] and "discord.gg" not in embed["description"]
    assert "t.me/newsroom" in mail and "discord.gg/newsroom" in mail
    assert "Rejoins-nous" in text
    # The summary is cut at a sentence boundary, in French.
    [row] = [d for d in await deliveries(loaded, clock) if d.channel == "telegram"]
    assert row.status == DeliveryStatus.SENT
    summary_text = text.split("\n\n")[1]
    assert summary_text.endswith(".") and "…" not in summary_text
    assert "8000 passages" not in summary_text  # the subheading is not summary text


async def test_running_again_posts_nothing_twice(
    store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    loaded = write_config(tmp_path, outbox_config(store_url, tmp_path))
    await queue(loaded, clock, SAMPLE, url=URL)
    first = await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    again = await queue(loaded, clock, SAMPLE, url=URL)
    assert again.duplicates and not again.queued
    second = await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    assert (first.done, second.done) == (3, 0)
    assert sum(len(files(tmp_path, c)) for c in ("telegram", "discord", "email")) == 3


async def test_correct_and_retract_edit_and_delete(
    store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    loaded = write_config(tmp_path, outbox_config(store_url, tmp_path))
    [(_, article_id, _)] = (await queue(loaded, clock, SAMPLE, url=URL)).queued
    await Service(loaded, clock=clock, workdir=tmp_path).run_once()

    corrected = tmp_path / "fixed.fr.txt"
    corrected.write_text(
        SAMPLE.read_text()
        .replace("14,2 millions", "14,5 millions")
        .replace("Lyon :", "Lyon (MàJ) :")
    )
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        options = editorial.options_for(loaded.app, store)
        assert await editorial.correct(store, article_id, corrected, options) == 3
    finally:
        await store.close()
    report = await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    assert report.done == 3
    [edit] = files(tmp_path, "telegram", "*-edit.json")
    request = json.loads(edit.read_text())
    assert request["method"] == "editMessageText" and "Lyon (MàJ)" in request["params"]["text"]
    assert files(tmp_path, "discord", "*-v2-edit.json")
    # A silent correction mails nothing (an email cannot be edited), and status says so.
    assert not files(tmp_path, "email", "*-edit.eml")
    outcomes = {d.channel: d.outcome for d in await deliveries(loaded, clock)}
    assert outcomes["telegram"] == outcomes["discord"] == "edited"
    assert str(outcomes["email"]).startswith("nothing possible")

    store = await Store.open(loaded.app.store, clock=clock)
    try:
        assert await editorial.retract(store, article_id) == 3
    finally:
        await store.close()
    report = await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    [delete] = files(tmp_path, "telegram", "*-delete.json")
    assert json.loads(delete.read_text())["method"] == "deleteMessage"
    assert files(tmp_path, "discord", "*-delete.json")
    rows = {d.channel: d.status for d in await deliveries(loaded, clock)}
    assert rows["telegram"] == rows["discord"] == rows["email"] == DeliveryStatus.DELETED
    # The dry run writes the withdrawal notice live would mail, threaded to the reader's copy.
    [withdrawal] = files(tmp_path, "email", "*-withdraw.eml")
    mail = email.message_from_bytes(withdrawal.read_bytes(), policy=email.policy.default)
    assert mail["Subject"].startswith("Retiré: Lyon")
    assert mail["In-Reply-To"] == mail["References"] and mail["In-Reply-To"].startswith("<a")
    assert "Cet article a été retiré." in mail.get_content()
    outcomes = {d.channel: d.outcome for d in await deliveries(loaded, clock)}
    assert outcomes["telegram"] == outcomes["discord"] == "deleted"


async def test_a_correction_with_a_note_in_a_dry_run_writes_what_live_sends(
    store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    loaded = write_config(tmp_path, outbox_config(store_url, tmp_path))
    [(_, article_id, _)] = (await queue(loaded, clock, SAMPLE, url=URL)).queued
    await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    corrected = tmp_path / "fixed.fr.txt"
    corrected.write_text(SAMPLE.read_text().replace("14,2 millions", "14,5 millions"))
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        options = editorial.options_for(loaded.app, store)
        await editorial.correct(store, article_id, corrected, options, notice="note")
    finally:
        await store.close()
    await Service(loaded, clock=clock, workdir=tmp_path).run_once()

    [edit] = files(tmp_path, "telegram", "*-edit.json")
    params = json.loads(edit.read_text())["params"]
    assert "<i>Rectificatif : cet article a été modifié" in params["text"]
    # The edit names the configured chat, not the channel's name.
    assert params["chat_id"] == loaded.app.channel("telegram").chat  # type: ignore[attr-defined]
    [notice] = files(tmp_path, "email", "*-v2-edit.eml")
    mail = email.message_from_bytes(notice.read_bytes(), policy=email.policy.default)
    assert mail["Subject"].startswith("Rectificatif")
    assert mail["In-Reply-To"].startswith("<a")
    assert mail["Message-ID"].endswith(".v2@" + mail["In-Reply-To"].split("@")[1])
    outcomes = {d.channel: d.outcome for d in await deliveries(loaded, clock)}
    assert outcomes["telegram"] == "edited, with the correction note"


async def test_future_stories_wait_for_their_time(
    store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    loaded = write_config(tmp_path, outbox_config(store_url, tmp_path))
    await queue(loaded, clock, SAMPLE, url=URL, at="in 2h")
    assert (await Service(loaded, clock=clock, workdir=tmp_path).run_once()).done == 0
    assert not files(tmp_path, "telegram")
    clock.advance(hours=2, seconds=1)
    assert (await Service(loaded, clock=clock, workdir=tmp_path).run_once()).done == 3


async def test_routing_respects_channel_filters(
    store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    data = outbox_config(store_url, tmp_path)
    data["channels"][0]["filters"] = {"languages": ["en"]}  # telegram: English only
    data["channels"][1]["filters"] = {"min_priority": 5}  # discord: important only
    loaded = write_config(tmp_path, data)
    await queue(loaded, clock, SAMPLE, url=URL, priority=7)
    await Service(loaded, clock=clock, workdir=tmp_path).run_once()
    assert not files(tmp_path, "telegram")
    assert len(files(tmp_path, "discord")) == 1 and len(files(tmp_path, "email")) == 1


async def test_a_bad_file_does_not_stop_the_others(
    store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    loaded = write_config(tmp_path, outbox_config(store_url, tmp_path))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    outcome = await queue(loaded, clock, empty, SAMPLE, tmp_path / "missing.md")
    assert len(outcome.queued) == 1 and len(outcome.refused) == 2
    assert "empty.txt: the story has no title" in outcome.refused[0]


async def test_scheduled_time_is_read_in_the_newsroom_zone(
    store_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    loaded = write_config(tmp_path, outbox_config(store_url, tmp_path))
    outcome = await queue(loaded, clock, SAMPLE, at="2026-11-29T11:00")  # Paris = UTC+1
    [(_, _, draft)] = outcome.queued
    assert draft.publish_at == clock() + timedelta(hours=1)
