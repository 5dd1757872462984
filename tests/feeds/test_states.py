"""The feed status machine: every move in the table, alerts only on breaking and recovering."""

from __future__ import annotations

import itertools

import pytest

from distributor.feeds.models import FeedStatus
from distributor.feeds.state import (
    ALERTS,
    TRANSITIONS,
    AlertKind,
    FeedEvent,
    alert_for,
    failure_event,
    transition,
)

S, E = FeedStatus, FeedEvent


@pytest.mark.parametrize(("status", "event"), list(itertools.product(S, E)))
def test_every_move_is_in_the_table_or_refused(status: FeedStatus, event: FeedEvent) -> None:
    if (status, event) in TRANSITIONS:
        assert transition(status, event) == TRANSITIONS[(status, event)]
    else:
        with pytest.raises(ValueError, match="cannot"):
            transition(status, event)


def test_the_table() -> None:
    assert dict(TRANSITIONS) == {
        (S.NEW, E.SUCCEED): S.OK,
        (S.NEW, E.FAIL): S.FAILING,
        (S.NEW, E.BREAK): S.BROKEN,
        (S.OK, E.SUCCEED): S.OK,
        (S.OK, E.FAIL): S.FAILING,
        (S.OK, E.BREAK): S.BROKEN,
        (S.FAILING, E.SUCCEED): S.OK,
        (S.FAILING, E.FAIL): S.FAILING,
        (S.FAILING, E.BREAK): S.BROKEN,
        (S.BROKEN, E.SUCCEED): S.OK,
        (S.BROKEN, E.BREAK): S.BROKEN,
    }


def test_a_success_always_leads_to_ok_and_nothing_leads_back_to_new() -> None:
    assert {TRANSITIONS[(s, E.SUCCEED)] for s in S} == {S.OK}
    assert S.NEW not in TRANSITIONS.values()


def test_alerts_only_when_breaking_and_when_recovering() -> None:
    for before, after in itertools.product(S, S):
        expected = (
            AlertKind.BROKEN
            if after == S.BROKEN and before != S.BROKEN
            else AlertKind.RECOVERED
            if (before, after) == (S.BROKEN, S.OK)
            else None
        )
        assert alert_for(before, after) == expected, (before, after)
    # Every alert names a move the table can make.
    assert set(ALERTS) <= {(s, t) for (s, _), t in TRANSITIONS.items()}


def test_a_run_of_failures_breaks_at_the_threshold_once() -> None:
    status, alerts = S.OK, []
    for failures in range(1, 9):
        after = transition(status, failure_event(status, failures, threshold=5))
        alerts.append(alert_for(status, after))
        status = after
    assert status == S.BROKEN
    assert alerts == [None, None, None, None, AlertKind.BROKEN, None, None, None]
    assert alert_for(status, transition(status, E.SUCCEED)) == AlertKind.RECOVERED


def test_a_broken_feed_stays_broken_when_the_threshold_is_raised() -> None:
    assert failure_event(S.BROKEN, 3, threshold=10) == E.BREAK
    assert failure_event(S.FAILING, 3, threshold=10) == E.FAIL
