"""Editor actions: queue stories, correct them, retract them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from distributor import errors, ingest, language, ledger, unsent, wakeup
from distributor.config import AppConfig
from distributor.store import Queued, Store
from distributor.types import ArticleDraft


@dataclass
class QueueOutcome:
    """Per-file results of one ``queue`` command: what was queued, skipped, refused."""

    queued: list[tuple[str, int, ArticleDraft]] = field(default_factory=list)
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    updated: list[tuple[str, int, tuple[str, ...]]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    async def record(
        self,
        store: Store,
        source: str,
        result: Queued,
        draft: ArticleDraft,
        options: ingest.IngestOptions,
    ) -> None:
        """File one queue attempt: new, or already there (and maybe changed as the editor asks)."""
        if result.created:
            self.queued.append((source, result.article_id, draft))
            return
        changes = requested_changes(draft, options)
        if changes is None:
            self.duplicates.append((source, result.article_id))
            return
        revised = await unsent.revise_unsent(store, result.article_id, changes)
        if revised.refused:
            self.refused.append(
                f"{source}: already queued as #{result.article_id}, but {revised.refused}"
            )
        elif revised.changed:
            self.updated.append((source, result.article_id, revised.changed))
        else:
            self.duplicates.append((source, result.article_id))


def requested_changes(draft: ArticleDraft, options: ingest.IngestOptions) -> unsent.Changes | None:
    """What the editor asked for on the command line, as changes to an existing story."""
    if not (options.language or options.tags or options.priority is not None or options.at):
        return None
    return unsent.Changes(
        language=draft.language if options.language else None,
        tags=draft.tags if options.tags else None,
        priority=draft.priority if options.priority is not None else None,
        publish_at=draft.publish_at if options.at else None,
    )


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


async def follow_up_exists(store: Store, article_id: int) -> bool:
    """Whether a story can be followed up: ``queue --follow-up-of``, the desk and the API."""
    return await store.get_article(article_id) is not None


async def queue_files(
    store: Store, paths: Iterable[Path], options: ingest.IngestOptions
) -> QueueOutcome:
    """Queue every story of every file; one bad file never stops the others."""
    outcome = QueueOutcome()
    if options.follow_up_of is not None and not await follow_up_exists(store, options.follow_up_of):
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
            await outcome.record(store, str(path), result, draft, options)
    if outcome.queued or outcome.updated:
        await wakeup.notify(store)
    return outcome


async def correct(
    store: Store,
    article_id: int,
    path: Path,
    options: ingest.IngestOptions,
    *,
    notice: str | None = None,
) -> int:
    """Store the file as the article's new version; returns how many posts will be edited.

    ``notice``: ``silent`` or ``note`` (see ``CorrectionsConfig``); None: the configured one.
    """
    parsed = ingest.read_file(path, options)
    if len(parsed) != 1:
        raise errors.IngestError(f"{path}: a correction must hold exactly one story")
    edits = await ledger.Ledger(store).correct(article_id, parsed[0].draft, notice=notice)
    await wakeup.notify(store)
    return edits


async def retract(store: Store, article_id: int) -> int:
    deletes = await ledger.Ledger(store).retract(article_id)
    await wakeup.notify(store)
    return deletes
