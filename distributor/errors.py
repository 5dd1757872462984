"""The exception hierarchy, and nothing else.

Retryability lives on the class: the dispatcher reads ``retryable`` and never guesses from the
kind of failure (python-telegram-bot's ``BadRequest`` subclasses ``NetworkError``, so "retry on
network errors" would also retry payloads the platform rejected).
"""

from __future__ import annotations

import re
from typing import ClassVar

# SQLAlchemy ends its messages with a link to its own docs: of no use to an editor or an admin.
_SQLALCHEMY_LINK = re.compile(r"\s*\(Background on this error at: [^)]*\)")


class DistributorError(Exception):
    """Unexpected distributor error."""


class ConfigError(DistributorError):
    """The configuration is invalid; ``issues`` lists every problem, each naming file, line, key."""

    def __init__(self, issues: list[str]) -> None:
        self.issues = issues
        super().__init__("\n".join(issues))


class TemplateError(DistributorError):
    """A template is missing, does not compile, or failed to render."""


class IngestError(DistributorError):
    """An article file could not be read; the message names the file and what is wrong."""


class StoreError(DistributorError):
    """The store is unreachable or its schema is not what this version expects."""

    def __init__(self, message: str) -> None:
        super().__init__(_SQLALCHEMY_LINK.sub("", message))


class DeliveryError(DistributorError):
    """A platform call failed.

    Message format: ``<platform> channel '<name>': <operation> failed: <platform text> (<status>)``.
    """

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        channel: str,
        platform: str = "",
        operation: str = "",
        status: int | None = None,
    ) -> None:
        self.channel = channel
        self.platform = platform
        self.operation = operation
        self.status = status
        self.reason = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = f"{self.platform} channel {self.channel!r}" if self.platform else repr(self.channel)
        op = f"{self.operation} failed: " if self.operation else ""
        status = f" ({self.status})" if self.status is not None else ""
        return f"{where}: {op}{self.reason}{status}"


class TransientDeliveryError(DeliveryError):
    """5xx, timeouts, dropped connections: try again later.

    ``in_doubt`` says the platform may have acted on the request before it failed (a timeout
    after the request was written), which matters for platforms without an idempotency key.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        channel: str,
        platform: str = "",
        operation: str = "",
        status: int | None = None,
        in_doubt: bool = False,
    ) -> None:
        self.in_doubt = in_doubt
        super().__init__(
            message, channel=channel, platform=platform, operation=operation, status=status
        )


class RateLimited(TransientDeliveryError):
    """The platform said to wait ``retry_after`` seconds (429)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        channel: str,
        platform: str = "",
        operation: str = "",
        status: int | None = 429,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(
            message, channel=channel, platform=platform, operation=operation, status=status
        )


class LeaseLost(TransientDeliveryError):
    """Another worker took over this delivery (our lease expired): do not send."""


class PermanentDeliveryError(DeliveryError):
    """The platform rejected this message; sending it again would fail the same way."""


class ChannelBroken(PermanentDeliveryError):
    """The channel itself is unusable (kicked, forbidden, unknown chat, bad token).

    The dispatcher pauses the channel with this reason and keeps the other channels going.
    """


class MessageNotFound(PermanentDeliveryError):
    """The post to edit or delete no longer exists on the platform."""


class NotDeletable(PermanentDeliveryError):
    """The platform no longer allows deleting this post (e.g. Telegram after 48 hours)."""
