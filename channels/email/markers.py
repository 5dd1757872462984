"""Stand-ins for what differs per reader, filled in with byte substitutions at send time.

Each is plain ASCII that survives HTML escaping, CSS inlining and 8bit serialisation unchanged,
never starts a line with ".", and cannot occur in real content (``.invalid`` is reserved).
"""

from __future__ import annotations

UNSUBSCRIBE_MARKER = "https://unsubscribe.invalid/distributor-unsubscribe-marker"
RECIPIENT_MARKER = "distributor-recipient-marker@recipient.invalid"
MESSAGE_ID_MARKER = "<distributor-message-id-marker@message-id.invalid>"

# Order matters: it is the order of the values a reader's copy is filled with.
ALL = (RECIPIENT_MARKER, MESSAGE_ID_MARKER, UNSUBSCRIBE_MARKER)
