"""Newsroom feeds: RSS, Atom and JSON Feed polled on a schedule, new items queued as stories.

``config`` holds the admin's ``feeds:`` entries, ``fetch`` the polite HTTP client, ``parse``
turns a feed document into drafts, ``state`` and ``models`` remember what each feed served, and
``poller`` ties them together for the service to call.
"""

from __future__ import annotations

# ``AppConfig`` (distributor.config) holds ``FeedConfig``s, and ``FeedConfig`` extends its
# ``Strict``: loading distributor.config first keeps one import order whichever module a caller
# asks for first.
from distributor import config as _config  # noqa: F401
