"""distributor: queue a story, post it to every channel the newsroom configured."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
