"""The email platform's tables: its own Alembic branch, labelled ``email``."""
