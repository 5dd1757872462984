"""The Telegram platform's tables: its own Alembic branch, labelled ``telegram``."""
