"""Logging setup, and secrets scrubbed from every log record whatever logger made it.

python-telegram-bot logs its API URL (bot token inside) at DEBUG, httpx logs request URLs at
INFO, discord.py logs webhook URLs (token inside) at DEBUG. Scrubbing happens in the log record
factory, which every logger goes through once a record passes its level, so no handler (ours,
pytest's, an admin's) ever sees a secret.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

MASK = "***"


def secret_variants(secret: str) -> set[str]:
    """A secret and the parts of it that show up alone in URLs and messages."""
    variants = {secret}
    tail = secret.rstrip("/").rsplit("/", 1)[-1]
    if len(tail) >= 16:
        variants.add(tail)  # the token at the end of a webhook URL
    if re.fullmatch(r"\d+:[\w-]{20,}", secret):
        variants.add(secret.split(":", 1)[1])  # the secret half of a Telegram bot token
    return {v for v in variants if len(v) >= 6}


class Redactor:
    """Knows the secrets; replaces them with ``***`` in any text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            for secret in secrets:
                if secret:
                    self._secrets |= secret_variants(secret)
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def scrub_record(self, record: logging.LogRecord) -> None:
        if self._pattern is None:
            return
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)


REDACTOR = Redactor()
_installed = False


def install_redaction(secrets: Iterable[str] = ()) -> None:
    """Register secrets and make every log record pass through the redactor (idempotent)."""
    global _installed
    REDACTOR.add(secrets)
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        REDACTOR.scrub_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


# What a record may carry as ``extra=`` for log shippers: the ids an operator searches by.
CONTEXT_FIELDS = ("story_id", "channel", "delivery_id", "operation", "feed", "worker")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's ids.

    The message and traceback were scrubbed by the record factory; the ids are scrubbed here
    too, so a secret cannot reach a log shipper through either.
    """

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": REDACTOR.scrub(record.getMessage()),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                event[name] = REDACTOR.scrub(value) if isinstance(value, str) else value
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = REDACTOR.scrub(self.formatException(record.exc_info))
        if record.exc_text:
            event["exception"] = REDACTOR.scrub(record.exc_text)
        if record.stack_info:
            event["stack"] = REDACTOR.scrub(record.stack_info)
        return json.dumps(event, ensure_ascii=False, default=str)


def setup(verbosity: int = 0, secrets: Iterable[str] = (), log_format: str = "text") -> None:
    """Log to stderr: warnings by default, -v our INFO, -vv DEBUG for every library.

    ``log_format`` is ``text`` (for people) or ``json`` (one object per event, for shippers).
    """
    install_redaction(secrets)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_distributor", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._distributor = True  # type: ignore[attr-defined]
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
    ours = logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity == 1 else logging.WARNING
    logging.getLogger("distributor").setLevel(ours)
    if verbosity < 2:
        # httpx logs every request URL at INFO: with a Bot API URL that is the token's home.
        for noisy in ("httpx", "httpcore", "telegram", "discord", "apscheduler", "aiosqlite"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
