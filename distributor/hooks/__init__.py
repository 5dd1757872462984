"""Signed event webhooks for the newsroom's other systems (``hooks:`` in the config).

Events are written to the ``hook_events`` table (``events.enqueue``), then posted by every
worker's ``sender.HookSender``: signed the Standard Webhooks way, retried with backoff, leased
like deliveries so that two workers never post the same event at once.
"""
