"""The API's models: they validate requests and generate the OpenAPI document (one source).

A story's keys are those of the JSON files ``distributor queue`` reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from distributor.config import CorrectionNotice


def _clean(value: str) -> str:
    # NUL cannot be stored in PostgreSQL text; a lone surrogate cannot be encoded at all.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Text = Annotated[str, AfterValidator(_clean)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoryIn(Model):
    """A story to queue (or the new version of one, for a correction)."""

    id: Annotated[Text, Field(max_length=256)] | int | None = Field(
        default=None, description="the CMS's own id: the same id twice is the same story"
    )
    title: Annotated[Text, Field(min_length=1, max_length=300)] = Field(
        description="one line, plain text"
    )
    body: Annotated[Text, Field(min_length=1, max_length=1_000_000)] = Field(
        description="paragraphs separated by blank lines, plain text or Markdown"
    )
    format: Literal["text", "markdown"] = Field(default="text", description="how body is written")
    standfirst: Annotated[Text, Field(max_length=5000)] | None = Field(
        default=None, description="the summary to post; else the lead sentences are used"
    )
    url: Annotated[Text, Field(max_length=2048)] | None = Field(
        default=None, description="the story's public address (its identity when no id is given)"
    )
    image: Annotated[Text, Field(max_length=2048)] | None = Field(
        default=None, description="an image URL"
    )
    language: Annotated[Text, Field(max_length=16)] | None = Field(
        default=None, description="a language code like `fr`; detected from the text when absent"
    )
    lang: Annotated[Text, Field(max_length=16)] | None = Field(
        default=None, description="the same as `language`"
    )
    tags: list[Annotated[Text, Field(max_length=64)]] | None = Field(
        default=None, max_length=50, description="channels may filter on them"
    )
    priority: int = Field(default=0, ge=-1000, le=1000, description="higher goes first")
    publish_at: Annotated[Text, Field(max_length=64)] | None = Field(
        default=None,
        description="ISO time (the newsroom's timezone when none is given) or 'in 2h'; "
        "default: now",
    )
    date: Annotated[Text, Field(max_length=64)] | None = Field(
        default=None, description="the same as `publish_at`"
    )
    follow_up_of: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="the id of an earlier story this one updates: it is posted as a reply to "
        "that story's post where the platform allows (`queue --follow-up-of`); a correction "
        "keeps the story's own",
    )


class CorrectionIn(StoryIn):
    """The new version of a story, and how the edited posts tell readers."""

    notice: CorrectionNotice | None = Field(
        default=None,
        description="`silent` edits the posts; `note` also ends them with the `corrected` "
        "label and mails an email list's readers who got the story a short correction; "
        "default: the configuration's `corrections.notice`",
    )


class Reschedule(Model):
    publish_at: Annotated[Text, Field(min_length=1, max_length=64)] = Field(
        description="the new publish time: ISO, or relative like 'in 2h'"
    )


class Retry(Model):
    channel: Annotated[Text, Field(max_length=64)] | None = Field(
        default=None, description="only this channel's failed deliveries"
    )


class PostLink(Model):
    target: str
    message_id: str
    url: str | None = Field(
        default=None, description="the post on the platform, where the platform gives a link"
    )


class DeliveryOut(Model):
    channel: str
    state: str = Field(description="the badge: sent, waiting, retrying, failed, dead, filtered…")
    status: str | None = Field(description="the delivery's status, null when there is none")
    operation: str | None
    attempts: int
    version: int
    sent_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    excluded_by: str | None = Field(default=None, description="the filter that holds it back")
    posts: list[PostLink] = Field(default_factory=list, description="where it landed")


class StoryOut(Model):
    id: int
    external_id: str | None
    title: str
    standfirst: str | None
    url: str | None
    image: str | None
    language: str
    tags: list[str]
    priority: int
    status: str
    version: int
    publish_at: datetime
    created_at: datetime
    updated_at: datetime
    deliveries: list[DeliveryOut]


class StoryPage(Model):
    items: list[StoryOut]
    next_cursor: str | None = Field(description="pass it as `cursor` for the next page")


class ActionOut(Model):
    story: StoryOut
    affected: int = Field(description="how many deliveries the action changed")
    message: str


class ChannelPreviewOut(Model):
    channel: str
    platform: str
    title: str | None = None
    text: str | None = Field(default=None, description="the post as the platform shows it")
    length: int | None = None
    limit: int | None = None
    media_type: str | None = None
    payload: str | None = Field(default=None, description="exactly what would be sent")
    excluded_by: str | None = None
    error: str | None = None


class PreviewOut(Model):
    language: str
    language_detected: bool
    channels: list[ChannelPreviewOut]


class FieldError(Model):
    field: str
    message: str


class Problem(Model):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] = Field(default_factory=list)
