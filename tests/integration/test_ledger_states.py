"""Random sequences of ledger calls on a real SQLite store, checked against a model.

The model below is written from the ledger's documented behaviour, not from the transition
table; after every step the store must agree with it, and every status change the store shows
must be one the table allows for the event that caused it.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from distributor import database, delivery_states
from distributor.config import ChannelConfig, StoreConfig
from distributor.delivery_states import Event
from distributor.ledger import Ledger
from distributor.models import Delivery, DeliveryStatus, Operation
from distributor.store import Store
from distributor.types import MessageRef, SendResult
from tests.conftest import FakeClock
from tests.helpers import draft

S = DeliveryStatus
CHANNELS = [ChannelConfig(name="resend", platform="x"), ChannelConfig(name="skip", platform="x")]
POLICIES = {"resend": "resend", "skip": "skip"}
WORKERS = ("w1", "w2")
LEASE = 60
# Half the calls succeed, so that runs go on to corrections, retractions and deletes.
OUTCOME = st.one_of(
    st.just("success"), st.sampled_from(["retry", S.DEAD, S.FAILED, S.SKIPPED, "release"])
)
T = TypeVar("T")


@dataclass
class Story:
    n: int
    publish_at: datetime
    version: int = 1
    routed: bool = False
    retracted: bool = False


@dataclass
class Row:
    """What one delivery should look like in the store."""

    article_id: int
    channel: str
    version: int
    due: datetime | None
    status: DeliveryStatus = S.PENDING
    operation: Operation = Operation.SEND
    attempts: int = 0
    refs: bool = False
    sent_at: bool = False
    owner: str | None = None
    expires: datetime | None = None
    started: bool = False


@dataclass
class Held:
    """A claimed delivery as its worker saw it, and the article version it read then."""

    delivery: Delivery
    version: int


class LedgerMachine(RuleBasedStateMachine):
    template: Path  # a migrated store, copied for each run (migrating each time is slow)

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory(dir=self.template.parent)
        path = Path(self.tmp.name) / "store.sqlite3"
        shutil.copyfile(self.template, path)
        self.clock = FakeClock()
        self.loop = asyncio.new_event_loop()
        url = f"sqlite+aiosqlite:///{path}"
        self.store = self.run(Store.open(StoreConfig(url=url), clock=self.clock))
        self.ledger = Ledger(self.store)
        self.stories: dict[int, Story] = {}
        self.rows: dict[int, Row] = {}
        self.held: dict[tuple[str, int], Held] = {}
        self.seen: dict[int, DeliveryStatus] = {}  # each row's status after the last step
        self.events: dict[int, Event] = {}  # what the model says happened to a row this step

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.store.close())
        self.loop.close()
        self.tmp.cleanup()

    def now(self) -> datetime:
        return self.clock()

    def apply(self, delivery_id: int, event: Event, status: DeliveryStatus) -> Row:
        """The model's own verdict: ``status`` (the table is checked against it, not used)."""
        row = self.rows[delivery_id]
        row.status = status
        self.events[delivery_id] = event
        return row

    def end_lease(self, row: Row) -> None:
        row.owner = row.expires = None
        row.started = False

    def pick_held(self, pick: int) -> tuple[str, Held, bool]:
        """A delivery some worker holds (maybe no longer validly), and whether it still may."""
        (worker, delivery_id), held = sorted(self.held.items())[pick % len(self.held)]
        del self.held[(worker, delivery_id)]  # the worker is done with it whatever happens
        row = self.rows[delivery_id]
        valid = row.owner == worker and row.status == S.SENDING
        if valid:
            assert held.delivery.operation == row.operation
            assert held.delivery.attempts == row.attempts
        return worker, held, valid

    # -- stories ----------------------------------------------------------------------------

    @initialize(stories=st.integers(1, 3))
    def newsroom(self, stories: int) -> None:
        # Work to claim from the first step on, so that short runs still reach the workers.
        self.publish(stories, 0)

    @rule(new=st.integers(0, 2), delay=st.sampled_from([0, 45]))
    def publish(self, new: int, delay: int) -> None:
        """Queue ``new`` stories due in ``delay`` seconds, then route whatever is due."""
        for _ in range(new):
            n = len(self.stories) + 1
            at = self.now() + timedelta(seconds=delay)
            queued = self.run(self.store.add_article(draft(n, publish_at=at)))
            assert queued.created
            self.stories[queued.article_id] = Story(n, at)
        routed = self.run(self.ledger.route_due(CHANNELS))
        due = {
            i
            for i, s in self.stories.items()
            if not (s.routed or s.retracted) and s.publish_at <= self.now()
        }
        assert set(routed) == due
        for delivery in self.run(self.store.deliveries_for(sorted(due))):
            story = self.stories[delivery.article_id]
            self.rows[delivery.id] = Row(
                delivery.article_id, delivery.channel, story.version, self.now()
            )
        for i in due:
            self.stories[i].routed = True

    def out(self) -> list[int]:
        """Stories with a post out: the ones whose retraction is worth trying."""
        return sorted({r.article_id for r in self.rows.values() if r.refs})

    def on_the_way(self) -> list[int]:
        """Stories being sent or sent: the ones whose correction changes a delivery."""
        return sorted({r.article_id for r in self.rows.values() if r.refs or r.status == S.SENDING})

    # Editor actions only where they matter (an always-enabled rule would crowd out the rest).
    @precondition(lambda self: self.on_the_way())
    @rule(pick=st.integers(0, 100))
    def correct(self, pick: int) -> None:
        article_id = self.on_the_way()[pick % len(self.on_the_way())]
        story = self.stories[article_id]
        new = draft(story.n, publish_at=story.publish_at, title=f"v{story.version + 1}")
        if story.retracted:
            with pytest.raises(ValueError, match="retracted"):
                self.run(self.ledger.correct(article_id, new))
            return
        edits = self.run(self.ledger.correct(article_id, new))
        story.version += 1
        expected = 0
        for i, row in self.rows.items():
            if row.article_id == article_id and row.status == S.SENT:
                self.apply(i, Event.CORRECT, S.PENDING)
                row.operation, row.attempts, row.due = Operation.EDIT, 0, self.now()
                expected += 1
        assert edits == expected

    @precondition(lambda self: self.out())
    @rule(pick=st.integers(0, 100))
    def retract(self, pick: int) -> None:
        article_id = self.out()[pick % len(self.out())]
        deletes = self.run(self.ledger.retract(article_id))
        self.stories[article_id].retracted = True
        expected = 0
        for i, row in self.rows.items():
            if row.article_id != article_id:
                continue
            if row.refs and row.status in (S.SENT, S.PENDING, S.FAILED, S.DEAD):
                self.apply(i, Event.RETRACT, S.PENDING)
                row.operation, row.attempts, row.due = Operation.DELETE, 0, self.now()
                expected += 1
            elif row.operation == Operation.SEND and row.status in (S.PENDING, S.FAILED, S.DEAD):
                self.apply(i, Event.CANCEL, S.CANCELLED)
        assert deletes == expected

    # -- workers ----------------------------------------------------------------------------

    def due(self) -> list[tuple[datetime, int]]:
        return sorted(
            (row.due, i)
            for i, row in self.rows.items()
            if row.status == S.PENDING and row.due is not None and row.due <= self.now()
        )

    def expired(self) -> list[int]:
        return [
            i
            for i, row in self.rows.items()
            if row.status == S.SENDING and row.expires is not None and row.expires < self.now()
        ]

    # Preconditions keep the steps where they do something: runs are short, and an empty
    # claim, reap or requeue is covered by the plain ledger tests.
    @precondition(lambda self: self.due())
    @rule(worker=st.sampled_from(WORKERS), limit=st.integers(1, 4))
    def claim(self, worker: str, limit: int) -> None:
        claimed = self.run(self.ledger.claim(worker, [c.name for c in CHANNELS], limit, LEASE))
        due = self.due()
        assert sorted(d.id for d in claimed) == sorted(i for _, i in due[:limit])
        for delivery in claimed:
            row = self.apply(delivery.id, Event.CLAIM, S.SENDING)
            row.owner, row.expires = worker, self.now() + timedelta(seconds=LEASE)
            version = self.stories[delivery.article_id].version
            self.held[(worker, delivery.id)] = Held(delivery, version)

    @precondition(lambda self: self.held)
    @rule(pick=st.integers(0, 100))
    def start(self, pick: int) -> None:
        worker, held, valid = self.pick_held(pick)
        assert self.run(self.ledger.mark_started(held.delivery, worker)) == valid
        if valid:
            self.apply(held.delivery.id, Event.START, S.SENDING).started = True
            self.held[(worker, held.delivery.id)] = held  # still working on it

    @precondition(lambda self: self.held)
    @rule(
        pick=st.integers(0, 100),
        outcomes=st.lists(OUTCOME, min_size=1, max_size=3),
        delay=st.sampled_from([0, 20, 120]),
        count=st.booleans(),
    )
    def finish(self, pick: int, outcomes: list[str], delay: int, count: bool) -> None:
        """Workers are done with up to three deliveries: accepted, failed, or handed back.

        One rule rather than three, several calls per step: Hypothesis enables a random subset
        of the rules in each run, and most runs should reach the later statuses.
        """
        for outcome in outcomes:
            if self.held:
                self.outcome(*self.pick_held(pick), outcome, delay, count)

    def outcome(
        self, worker: str, held: Held, valid: bool, outcome: str, delay: int, count: bool
    ) -> None:
        if outcome == "success":
            self.succeed(worker, held, valid)
        elif outcome == "release":
            assert self.run(self.ledger.release(held.delivery, worker)) == valid
            if valid:
                self.end_lease(self.apply(held.delivery.id, Event.RELEASE, S.PENDING))
        else:
            final = None if outcome == "retry" else DeliveryStatus(outcome)
            self.fail(worker, held, valid, final, self.now() + timedelta(seconds=delay), count)

    def succeed(self, worker: str, held: Held, valid: bool) -> None:
        delivery = held.delivery
        deleting = delivery.operation == Operation.DELETE
        result = None if deleting else SendResult((MessageRef("c", str(delivery.id)),), self.now())
        outcome = self.run(self.ledger.record_success(delivery, worker, result, held.version))
        assert outcome == valid
        if not valid:
            return
        row = self.rows[delivery.id]
        if deleting:
            self.apply(delivery.id, Event.REMOVE, S.DELETED)
        else:
            story = self.stories[row.article_id]
            changed = story.version > held.version
            if story.retracted or changed:
                self.apply(delivery.id, Event.FOLLOW_UP, S.PENDING)
                row.due = self.now()
            else:
                self.apply(delivery.id, Event.SUCCEED, S.SENT)
            if row.operation == Operation.SEND:
                row.sent_at = True
            row.operation = (
                Operation.DELETE
                if story.retracted
                else Operation.EDIT
                if changed
                else Operation.SEND
            )
            row.refs, row.version = True, held.version
        row.attempts = 0
        self.end_lease(row)

    def fail(
        self,
        worker: str,
        held: Held,
        valid: bool,
        final: DeliveryStatus | None,
        at: datetime,
        count: bool,
    ) -> None:
        retry_at = at if final is None else None
        outcome = self.run(
            self.ledger.record_failure(
                held.delivery,
                worker,
                "boom",
                retry_at=retry_at,
                final_status=final or S.DEAD,
                count_attempt=count,
            )
        )
        assert outcome == valid
        if not valid:
            return
        if final is None:
            row = self.apply(held.delivery.id, Event.FAIL_RETRY, S.PENDING)
        else:
            events = {S.DEAD: Event.GIVE_UP, S.FAILED: Event.REJECT, S.SKIPPED: Event.SKIP_IN_DOUBT}
            row = self.apply(held.delivery.id, events[final], final)
        row.due = retry_at
        row.attempts += 1 if count else 0
        self.end_lease(row)

    # -- operators and the clock -------------------------------------------------------------

    @precondition(lambda self: self.expired())
    @rule()
    def reap(self) -> None:
        reaped = self.run(self.ledger.reap(POLICIES))
        expected = set()
        for i in self.expired():
            row = self.rows[i]
            in_doubt = row.started
            skip = in_doubt and POLICIES[row.channel] == "skip"
            if skip and row.operation == Operation.SEND:
                self.apply(i, Event.SKIP_IN_DOUBT, S.SKIPPED)
            else:  # an edit or delete in doubt is redone (but still reported "skipped")
                self.apply(i, Event.REAP, S.PENDING)
                row.due = self.now()
            expected.add((i, "skipped" if skip else "retry", in_doubt))
            self.end_lease(row)
        assert {(r.delivery_id, r.outcome, r.in_doubt) for r in reaped} == expected

    @precondition(lambda self: any(r.status in (S.FAILED, S.DEAD) for r in self.rows.values()))
    @rule(pick=st.one_of(st.none(), st.integers(0, 100)))
    def requeue(self, pick: int | None) -> None:
        article_id = None
        if pick is not None and self.stories:
            article_id = sorted(self.stories)[pick % len(self.stories)]
        count = self.run(self.ledger.requeue(article_id=article_id))
        expected = 0
        for i, row in self.rows.items():
            if article_id in (None, row.article_id) and row.status in (S.FAILED, S.DEAD):
                self.apply(i, Event.REQUEUE, S.PENDING)
                row.attempts, row.due = 0, self.now()
                expected += 1
        assert count == expected

    def waiting(self) -> bool:
        """Something only time moves on: a story or a retry not due yet, a lease running."""
        now = self.now()
        return any(s.publish_at > now for s in self.stories.values()) or any(
            (r.status == S.PENDING and r.due is not None and r.due > now)
            or (r.status == S.SENDING and r.expires is not None and r.expires >= now)
            for r in self.rows.values()
        )

    @precondition(lambda self: self.waiting())
    @rule(seconds=st.sampled_from([1, 30, 61, 200]))
    def tick(self, seconds: int) -> None:
        self.clock.advance(seconds=seconds)

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def the_store_agrees_with_the_model_and_the_table(self) -> None:
        stored = {d.id: d for d in self.run(self.store.deliveries_for(sorted(self.stories)))}
        assert set(stored) == set(self.rows)
        for i, d in stored.items():
            row = self.rows[i]
            assert isinstance(d.status, DeliveryStatus) and isinstance(d.operation, Operation)
            assert (d.status, d.operation) == (row.status, row.operation), i
            assert (d.attempts, d.version, d.next_attempt_at) == (
                row.attempts,
                row.version,
                row.due,
            )
            assert bool(d.refs) == row.refs and (d.sent_at is not None) == row.sent_at
            assert (d.lease_owner, d.attempt_started_at is not None) == (row.owner, row.started)
            if d.status == S.SENT:
                assert d.refs and d.sent_at is not None
            assert (d.status == S.SENDING) == (d.lease_owner is not None)
            # No move outside the table: each change is the table's answer to its event.
            before, event = self.seen.get(i), self.events.get(i)
            if before is None:
                assert d.status == delivery_states.INITIAL and event is None
            elif event is None:
                assert d.status == before, f"delivery {i} moved with no event"
            else:
                assert delivery_states.transition(before, event) == d.status
            self.seen[i] = d.status
        self.events.clear()


def test_the_ledger_follows_the_transition_table(tmp_path: Path) -> None:
    template = tmp_path / "template.sqlite3"

    async def migrate() -> None:
        engine = database.create_engine(f"sqlite+aiosqlite:///{template}")
        try:
            await database.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())

    class Machine(LedgerMachine):
        pass

    Machine.template = template
    run_state_machine_as_test(
        Machine,
        settings=settings(max_examples=30, stateful_step_count=30, deadline=None, database=None),
    )
