"""Platform adapters: one package per platform, plus the outbox transport and the protocol."""
