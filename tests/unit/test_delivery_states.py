"""The table of allowed delivery transitions, and the status enums it is built on."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from distributor import delivery_states
from distributor.delivery_states import ALLOWED, TERMINAL, Event, IllegalTransition
from distributor.models import (
    ACTIVE,
    RETRYABLE,
    ArticleStatus,
    Delivery,
    DeliveryStatus,
    Operation,
)

S = DeliveryStatus
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)

# Written out by hand: the only ways out of a status a delivery rests in.
EDITORIAL_EXITS = {
    S.SENT: {Event.CORRECT, Event.RETRACT},
    S.FAILED: {Event.REQUEUE, Event.RETRACT, Event.CANCEL},
    S.DEAD: {Event.REQUEUE, Event.RETRACT, Event.CANCEL},
    S.SKIPPED: set(),
    S.DELETED: set(),
    S.CANCELLED: set(),
}
# What a worker holding the lease may do, and nobody else.
LEASED_EVENTS = {
    Event.START,
    Event.SUCCEED,
    Event.REMOVE,
    Event.FOLLOW_UP,
    Event.FAIL_RETRY,
    Event.GIVE_UP,
    Event.REJECT,
    Event.SKIP_IN_DOUBT,
    Event.RELEASE,
    Event.REAP,
}


def reachable(start: DeliveryStatus) -> set[DeliveryStatus]:
    seen, todo = {start}, deque([start])
    while todo:
        status = todo.popleft()
        for (source, _), to in ALLOWED.items():
            if source == status and to not in seen:
                seen.add(to)
                todo.append(to)
    return seen


def exits(status: DeliveryStatus) -> set[Event]:
    return {event for (source, event), to in ALLOWED.items() if source == status and to != status}


def test_the_stored_values_are_unchanged() -> None:
    # The database and the migrations hold these strings: renaming one is a data migration.
    assert [s.value for s in DeliveryStatus] == [
        "pending",
        "sending",
        "sent",
        "failed",
        "dead",
        "skipped",
        "deleted",
        "cancelled",
    ]
    assert [o.value for o in Operation] == ["send", "edit", "delete"]
    assert [a.value for a in ArticleStatus] == ["queued", "routed", "retracted"]
    assert DeliveryStatus.SENT == "sent" and f"{DeliveryStatus.DEAD}" == "dead"
    assert {S.PENDING, S.SENDING} == ACTIVE and {S.FAILED, S.DEAD} == RETRYABLE


def test_every_status_is_reachable_from_routing() -> None:
    assert reachable(delivery_states.INITIAL) == set(DeliveryStatus)


def test_every_status_can_come_to_rest() -> None:
    for status in DeliveryStatus:
        assert reachable(status) & TERMINAL, f"{status} can never end"


def test_resting_statuses_are_left_only_by_editor_and_operator_actions() -> None:
    assert set(EDITORIAL_EXITS) == TERMINAL
    for status in TERMINAL:
        assert exits(status) == EDITORIAL_EXITS[status], status


def test_only_a_claim_leases_and_only_the_lease_holder_ends_a_lease() -> None:
    into_sending = {event for (s, event), to in ALLOWED.items() if to == S.SENDING != s}
    assert into_sending == {Event.CLAIM}
    for event in LEASED_EVENTS:
        assert delivery_states.sources(event) == (S.SENDING,), event
    assert exits(S.SENDING) == LEASED_EVENTS - {Event.START}


def test_every_event_is_used_and_leads_to_one_status() -> None:
    for event in Event:
        targets = {to for (_, e), to in ALLOWED.items() if e == event}
        assert targets == {delivery_states.target(event)}, event


@pytest.mark.parametrize("status", list(DeliveryStatus))
@pytest.mark.parametrize("event", list(Event))
def test_transition_follows_the_table_and_refuses_the_rest(
    status: DeliveryStatus, event: Event
) -> None:
    if (status, event) in ALLOWED:
        assert delivery_states.transition(status, event) == ALLOWED[(status, event)]
    else:
        with pytest.raises(IllegalTransition, match=f"a {status} delivery cannot"):
            delivery_states.transition(status, event)


def test_a_failure_ends_only_as_dead_failed_or_skipped() -> None:
    assert delivery_states.final_event(S.DEAD) == Event.GIVE_UP
    assert delivery_states.final_event(S.FAILED) == Event.REJECT
    assert delivery_states.final_event(S.SKIPPED) == Event.SKIP_IN_DOUBT
    with pytest.raises(IllegalTransition):
        delivery_states.final_event(S.SENT)


def test_back_to_pending_starts_over_and_only_for_events_that_lead_there() -> None:
    values = delivery_states.back_to_pending(Event.CORRECT, NOW)
    assert values == {
        "status": S.PENDING,
        "attempts": 0,
        "next_attempt_at": NOW,
        "updated_at": NOW,
        "lease_owner": None,
        "lease_expires_at": None,
        "attempt_started_at": None,
        "last_error": None,
    }
    assert "last_error" not in delivery_states.back_to_pending(Event.REQUEUE, NOW, keep_error=True)
    with pytest.raises(IllegalTransition):
        delivery_states.back_to_pending(Event.CANCEL, NOW)


def sql(event: Event, *more: Event) -> str:
    query = select(Delivery.id).where(delivery_states.where_status(Delivery.status, event, *more))
    compiled = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    return str(compiled).split("WHERE ")[1]


def test_the_sql_guards_come_from_the_table() -> None:
    # One source compares with `=` (the partial indexes' form), several with IN.
    assert sql(Event.CLAIM) == "deliveries.status = 'pending'"
    assert sql(Event.REQUEUE) == "deliveries.status IN ('failed', 'dead')"
    assert sql(Event.RETRACT, Event.CANCEL) == "deliveries.status IN ('pending', 'failed', 'dead')"
