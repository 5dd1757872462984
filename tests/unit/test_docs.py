"""The README stays a short front door whose quick start is true, and no doc link is broken."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
QUICK_START = (
    "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/distributor demo",
    "python3 -m venv .venv && .venv/bin/pip install '.[test]' && .venv/bin/pytest",
)
# [text](target) outside code; images and autolinks are not used in these docs.
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _links(path: Path) -> list[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    return _LINK.findall(text)


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    headings = re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)
    # GitHub's slugs: lower case, punctuation dropped (hyphens kept), spaces to hyphens.
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_readme_is_a_front_door_with_the_quick_start() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    for command in QUICK_START:
        assert command in text


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_links_point_at_files_and_headings_that_exist(path: Path) -> None:
    for link in _links(path):
        if re.match(r"^[a-z]+:", link):
            continue  # a web address given to readers (a platform's own settings page)
        target, _, anchor = link.partition("#")
        file = (path.parent / target).resolve() if target else path
        assert file.is_relative_to(ROOT), f"{path.name}: {link} leaves the repository"
        assert file.exists(), f"{path.name}: {link} points at a missing file"
        if anchor and file.suffix == ".md":
            assert anchor in _anchors(file), f"{path.name}: no heading for #{anchor} in {target}"


def test_every_doc_is_reachable_from_the_readme() -> None:
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in _links(README)}
    assert {path.resolve() for path in DOCS} <= linked
