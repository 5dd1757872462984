"""The adapter contract, once per platform: every adapter+fake pair passes the same tests.

A test that does not apply to a platform (the outbox has no rate limit, an email cannot be
deleted) is skipped by the parametrisation, with the reason, from what the platform declares;
the first test checks those declarations against the adapters themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from distributor import errors
from distributor.config import ChannelConfig
from distributor.ledger import Ledger
from distributor.store import Store
from distributor.types import MessageRef, SendResult
from tests.contract.harness import Harness, Story
from tests.contract.platforms import platforms
from tests.helpers import draft

TITLE = "Council approves the new bridge"
CORRECTED = "Bridge vote postponed to March"
RETRY_AFTER = 42  # longer than any adapter sleeps through in place


async def test_the_declared_traits_are_the_adapters_own(harness: Harness) -> None:
    adapter, declared = harness.adapter, harness.platform
    assert (adapter.idempotent, adapter.supports_edit, adapter.supports_delete) == (
        declared.idempotent,
        declared.supports_edit,
        declared.supports_delete,
    )


async def edit_then_delete(harness: Harness, refs: Sequence[MessageRef], story: Story) -> None:
    """Correct, then retract the post ``refs`` name; or check that the adapter refuses as it
    declares (the dispatcher never asks such an adapter, but asking must reach no reader)."""
    corrected = harness.correction(story, CORRECTED)
    edited = await harness.edit(refs, corrected)
    text = harness.text(refs) or ""
    if harness.adapter.supports_edit:
        assert CORRECTED in text and TITLE not in text
    else:
        assert list(edited.refs) == list(refs)
        assert TITLE in text and CORRECTED not in text
    assert harness.post_count() == 1

    if harness.adapter.supports_delete:
        await harness.delete(refs, corrected)
        assert harness.text(refs) is None
        assert harness.post_count() == 0
    else:
        with pytest.raises(errors.NotDeletable):
            await harness.delete(refs, corrected)
        assert harness.post_count() == 1


async def test_send_edit_delete(harness: Harness) -> None:
    story = await harness.story(TITLE)
    sent = await harness.send(story)

    assert len(sent.refs) == 1
    assert sent.sent_at == harness.env.clock.now
    assert TITLE in (harness.text(sent.refs) or "")
    assert harness.post_count() == 1
    await edit_then_delete(harness, sent.refs, story)


@pytest.mark.parametrize(
    "harness", platforms(lambda p: p.supports_delete, "cannot delete a post"), indirect=True
)
async def test_deleting_a_post_already_gone(harness: Harness) -> None:
    story = await harness.story(TITLE)
    sent = await harness.send(story)
    await harness.delete(sent.refs, story)

    gone = harness.platform.missing_delete
    if gone is None:
        await harness.delete(sent.refs, story)  # declared: deleting again succeeds
    else:
        with pytest.raises(gone):
            await harness.delete(sent.refs, story)
    assert harness.post_count() == 0


@pytest.mark.parametrize(
    "harness", platforms(lambda p: p.throttled is not None, "has no rate limit"), indirect=True
)
async def test_slow_down_is_a_transient_failure(harness: Harness) -> None:
    story = await harness.story(TITLE)
    harness.script_throttle(RETRY_AFTER)
    throttled = harness.platform.throttled
    assert throttled is not None

    with pytest.raises(throttled) as caught:
        await harness.send(story)
    assert caught.value.retryable
    if isinstance(caught.value, errors.RateLimited):
        assert caught.value.retry_after == RETRY_AFTER
    assert harness.post_count() == 0


@pytest.mark.parametrize(
    "harness", platforms(lambda p: p.credentials, "has no credentials"), indirect=True
)
async def test_refused_credentials_break_the_channel(harness: Harness) -> None:
    refused = await harness.with_bad_credentials()
    story = await harness.story(TITLE)

    with pytest.raises(errors.ChannelBroken):
        await harness.send(story, refused)
    assert harness.post_count() == 0


async def through_the_store(
    store: Store, channel: ChannelConfig, sent: SendResult
) -> list[MessageRef]:
    """Record ``sent`` on a delivery as the dispatcher does, and read its refs back."""
    ledger = Ledger(store)
    queued = await store.add_article(draft(1, publish_at=store.clock()))
    await ledger.route_due([channel])
    [delivery] = await ledger.claim("contract", [channel.name], 1, 60)
    assert await ledger.record_success(delivery, "contract", sent, delivery.version)
    [row] = await store.deliveries_for([queued.article_id])
    return [MessageRef.from_json(data) for data in row.refs]


async def test_refs_survive_a_round_trip_through_the_store(harness: Harness, store: Store) -> None:
    story = await harness.story(TITLE)
    sent = await harness.send(story)

    refs = await through_the_store(store, harness.adapter.config, sent)
    assert refs == list(sent.refs)
    await edit_then_delete(harness, refs, story)


NOT_IDEMPOTENT = platforms(lambda p: not p.idempotent, "is idempotent: a resend duplicates nothing")


@pytest.mark.parametrize("harness", NOT_IDEMPOTENT, indirect=True)
async def test_every_post_is_declared_before_it_reaches_the_platform(harness: Harness) -> None:
    arrivals = harness.watch_posting()  # the context's flag, read by the fake as requests arrive
    story = await harness.story(TITLE)
    sent = await harness.send(story)
    await edit_then_delete(harness, sent.refs, story)

    assert len(arrivals) == 3  # send, edit, delete
    assert all(arrivals), arrivals
    assert [context.started for context in harness.contexts] == [True, True, True]


@pytest.mark.parametrize("harness", NOT_IDEMPOTENT, indirect=True)
async def test_a_lost_lease_stops_the_post_before_it_leaves(harness: Harness) -> None:
    arrivals = harness.watch_posting()

    async def taken_over() -> None:
        raise errors.LeaseLost("another worker took this delivery over", channel="contract")

    harness.hook = taken_over
    story = await harness.story(TITLE)
    with pytest.raises(errors.LeaseLost):
        await harness.send(story)
    assert arrivals == []
    assert harness.post_count() == 0
    assert harness.contexts[-1].started is False
