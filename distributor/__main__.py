"""``python -m distributor`` is the ``distributor`` command."""

from __future__ import annotations

from distributor.cli import main

main()
