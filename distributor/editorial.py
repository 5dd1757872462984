"""Editor actions: queue stories, correct them, retract them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from distributor import errors, ingest, language, ledger, wakeup
from distributor.config import AppConfig
from distributor.store import Store
from distributor.types import ArticleDraft


@dataclass
class QueueOutcome:
    """Per-file results of one ``queue`` command: what was queued, skipped, refused."""

    queued: list[tuple[str, int, ArticleDraft]] = field(default_factory=list)
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def options_for(app: AppConfig, store: Store, **cli: object) -> ingest.IngestOptions:
    return ingest.IngestOptions(
        now=store.clock(),
        zone=app.zone,
        max_bytes=app.max_article_bytes,
        default_language=app.default_language,
        **cli,  # type: ignore[arg-type]
    )


async def with_language(item: ingest.Parsed) -> ArticleDraft:
    """The story's draft, its language detected from its text when the editor gave none.

    Detection that is not sure keeps the configuration's default language.
    """
    if item.language_given:
        return item.draft
    found = await asyncio.to_thread(language.detect_story, item.draft.title, item.draft.body)
    return dataclasses.replace(item.draft, language=found) if found else item.draft


async def queue_files(
    store: Store, paths: Iterable[Path], options: ingest.IngestOptions
) -> QueueOutcome:
    """Queue every story of every file; one bad file never stops the others."""
    outcome = QueueOutcome()
    if options.follow_up_of is not None and await store.get_article(options.follow_up_of) is None:
        outcome.refused.append(f"--follow-up-of {options.follow_up_of}: no such story")
        return outcome
    for path in paths:
        try:
            found = ingest.read_stories(path, options)
        except errors.IngestError as exc:
            outcome.refused.append(str(exc))
            continue
        outcome.refused.extend(found.problems)  # a bad entry of a list; the good ones go on
        for item in found.stories:
            outcome.notes.extend(item.notes)
            draft = await with_language(item)
            result = await store.add_article(draft)
            if result.created:
                outcome.queued.append((str(path), result.article_id, draft))
            else:
                outcome.duplicates.append((str(path), result.article_id))
    if outcome.queued:
        await wakeup.notify(store)
    return outcome


async def correct(store: Store, article_id: int, path: Path, options: ingest.IngestOptions) -> int:
    """Store the file as the article's new version; returns how many posts will be edited."""
    parsed = ingest.read_file(path, options)
    if len(parsed) != 1:
        raise errors.IngestError(f"{path}: a correction must hold exactly one story")
    edits = await ledger.Ledger(store).correct(article_id, parsed[0].draft)
    await wakeup.notify(store)
    return edits


async def retract(store: Store, article_id: int) -> int:
    deletes = await ledger.Ledger(store).retract(article_id)
    await wakeup.notify(store)
    return deletes
