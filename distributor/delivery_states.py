"""The delivery state machine: which event may move a delivery from which status to which.

``distributor.ledger`` is the only writer of a delivery's status, and every one of its writes
takes its allowed source statuses and its new status from ``ALLOWED``: a change that is not in
the table cannot be written. Each event has exactly one target status, so one UPDATE applies it
to any number of rows.

The statuses a delivery rests in (``TERMINAL``) are left only by an editor or an operator:
``correct`` (a sent post gets edited), ``retract`` / ``cancel`` (a story is withdrawn) and
``requeue`` (failed and dead deliveries are tried again). Skipped, deleted and cancelled
deliveries never move again.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import ColumnElement, literal
from sqlalchemy.orm import QueryableAttribute

from distributor.models import Delivery, DeliveryStatus


class Event(enum.StrEnum):
    """Something that happens to a delivery."""

    CLAIM = "claim"  # a worker leases a due delivery
    START = "start"  # the platform call is about to leave: the in-doubt window opens
    SUCCEED = "succeed"  # the platform accepted a send or an edit
    REMOVE = "remove"  # the platform accepted a delete
    FOLLOW_UP = "follow_up"  # accepted, but the story changed meanwhile: an edit or delete is due
    FAIL_RETRY = "fail_retry"  # failed, to be tried again later
    GIVE_UP = "give_up"  # failed and out of retries
    REJECT = "reject"  # the platform refused it for good
    SKIP_IN_DOUBT = "skip_in_doubt"  # may or may not have gone out; the channel's policy is skip
    RELEASE = "release"  # handed back untouched (e.g. its channel was paused)
    REAP = "reap"  # its worker's lease ran out: retried
    REQUEUE = "requeue"  # an operator retries a failed or dead delivery
    CORRECT = "correct"  # the story was corrected: a sent post gets edited
    RETRACT = "retract"  # the story was withdrawn: a post that is out gets deleted
    CANCEL = "cancel"  # the story was withdrawn before this delivery ever went out


_S = DeliveryStatus

ALLOWED: Mapping[tuple[DeliveryStatus, Event], DeliveryStatus] = MappingProxyType(
    {
        (_S.PENDING, Event.CLAIM): _S.SENDING,
        (_S.SENDING, Event.START): _S.SENDING,
        (_S.SENDING, Event.SUCCEED): _S.SENT,
        (_S.SENDING, Event.REMOVE): _S.DELETED,
        (_S.SENDING, Event.FOLLOW_UP): _S.PENDING,
        (_S.SENDING, Event.FAIL_RETRY): _S.PENDING,
        (_S.SENDING, Event.GIVE_UP): _S.DEAD,
        (_S.SENDING, Event.REJECT): _S.FAILED,
        (_S.SENDING, Event.SKIP_IN_DOUBT): _S.SKIPPED,
        (_S.SENDING, Event.RELEASE): _S.PENDING,
        (_S.SENDING, Event.REAP): _S.PENDING,
        (_S.FAILED, Event.REQUEUE): _S.PENDING,
        (_S.DEAD, Event.REQUEUE): _S.PENDING,
        (_S.SENT, Event.CORRECT): _S.PENDING,
        # A pending edit or delete, or a failed one, of a post that is out becomes a delete.
        (_S.SENT, Event.RETRACT): _S.PENDING,
        (_S.PENDING, Event.RETRACT): _S.PENDING,
        (_S.FAILED, Event.RETRACT): _S.PENDING,
        (_S.DEAD, Event.RETRACT): _S.PENDING,
        (_S.PENDING, Event.CANCEL): _S.CANCELLED,
        (_S.FAILED, Event.CANCEL): _S.CANCELLED,
        (_S.DEAD, Event.CANCEL): _S.CANCELLED,
    }
)

INITIAL = DeliveryStatus.PENDING  # what routing creates
TERMINAL: frozenset[DeliveryStatus] = frozenset(
    {_S.SENT, _S.FAILED, _S.DEAD, _S.SKIPPED, _S.DELETED, _S.CANCELLED}
)


class IllegalTransition(ValueError):
    """An event that the table does not allow from a delivery's current status."""


def transition(status: DeliveryStatus, event: Event) -> DeliveryStatus:
    """The status a delivery in ``status`` takes on ``event``.

    Raises:
        IllegalTransition: the table has no such move.
    """
    try:
        return ALLOWED[(status, event)]
    except KeyError:
        raise IllegalTransition(f"a {status} delivery cannot take the event {event}") from None


def sources(event: Event) -> tuple[DeliveryStatus, ...]:
    """Every status from which ``event`` may happen, in declaration order."""
    return tuple(s for s in DeliveryStatus if (s, event) in ALLOWED)


def _single_targets() -> dict[Event, DeliveryStatus]:
    targets: dict[Event, DeliveryStatus] = {}
    for (_, event), to in ALLOWED.items():
        if targets.setdefault(event, to) != to:
            raise RuntimeError(f"event {event} leads to more than one status")
    return targets


_TARGETS = _single_targets()


def target(event: Event) -> DeliveryStatus:
    """The one status that ``event`` leads to, whatever the status it starts from."""
    return _TARGETS[event]


def final_event(status: DeliveryStatus) -> Event:
    """The event that ends a failed delivery in ``status`` (dead, failed or skipped).

    Raises:
        IllegalTransition: a failure cannot end in that status.
    """
    for event in (Event.GIVE_UP, Event.REJECT, Event.SKIP_IN_DOUBT):
        if target(event) == status:
            return event
    raise IllegalTransition(f"a failed delivery cannot end as {status!r}")


# -- the table in SQL: what the ledger's UPDATEs are built from ------------------------------

# A lease given up: no owner, no deadline, no call in flight.
NO_LEASE: Mapping[str, object] = MappingProxyType(
    {"lease_owner": None, "lease_expires_at": None, "attempt_started_at": None}
)


def where_status(status: QueryableAttribute[DeliveryStatus], *events: Event) -> ColumnElement[bool]:
    """SQL: ``status`` is one from which every one of ``events`` may happen."""
    allowed = [s for s in sources(events[0]) if all((s, e) in ALLOWED for e in events[1:])]
    # A single status compares with `=`, the form the partial indexes' predicates take.
    return status == allowed[0] if len(allowed) == 1 else status.in_(allowed)


def status_value(event: Event) -> ColumnElement[DeliveryStatus]:
    """SQL: the status ``event`` sets, typed as the column (for use inside a CASE)."""
    return literal(target(event), Delivery.status.type)


def back_to_pending(event: Event, now: datetime, *, keep_error: bool = False) -> dict[str, object]:
    """The values of a delivery put back in the queue from scratch: due now, no attempt yet.

    Args:
        event: what puts it back; it must lead to pending.
        now: when it falls due.
        keep_error: leave the last error for the operator to see (a requeue).
    """
    status = target(event)
    if status != DeliveryStatus.PENDING:
        raise IllegalTransition(f"the event {event} does not lead back to pending")
    values: dict[str, object] = {
        "status": status,
        "attempts": 0,
        "next_attempt_at": now,
        "updated_at": now,
        **NO_LEASE,
    }
    if not keep_error:
        values["last_error"] = None
    return values
