"""Fit a summary to a platform's limit, measured on the rendered post.

The payload builder supplies ``fits(draft)``, which renders the draft and measures it the way
the platform counts; this module only decides what to try. It keeps whole sentences when it
can, else cuts the first sentence at a word boundary and adds an ellipsis. Rendered length
grows with the summary, so each search is a bisection: a handful of renders per post.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from distributor import errors

ELLIPSIS = "…"
_TRAILING_PUNCTUATION = " ,;:–—-([{«\"'"


@dataclass(frozen=True, slots=True)
class Draft:
    """One attempt at a post: the title, the summary, and whether the promo footer is kept."""

    title: str
    summary: str
    promo: bool = True


def _largest(count: int, ok: Callable[[int], bool]) -> int:
    """The largest ``n`` in ``0..count`` with ``ok(n)``, given ``ok`` is monotone and ok(0)."""
    lo, hi = 0, count
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def cut_with_ellipsis(text: str, ok: Callable[[str], bool]) -> str | None:
    """The longest word-boundary prefix of ``text`` plus an ellipsis that is ``ok``.

    Falls back to a character cut when a single word is too long (hostile input, URLs).
    """
    words = text.split()

    def shortened(n: int) -> str:
        return " ".join(words[:n]).rstrip(_TRAILING_PUNCTUATION) + ELLIPSIS

    n = _largest(len(words), lambda n: n == 0 or ok(shortened(n)))
    if n > 0:
        return shortened(n)
    first = words[0] if words else ""

    def chars(n: int) -> str:
        return first[:n] + ELLIPSIS

    n = _largest(len(first), lambda n: n == 0 or ok(chars(n)))
    if n > 0:
        return chars(n)
    return None


def fit_summary(
    sentences: Sequence[str], fits: Callable[[str], bool], max_chars: int | None = None
) -> str | None:
    """The longest summary built from the leading ``sentences`` that fits.

    Returns ``""`` when only an empty summary fits, ``None`` when not even that does.
    """
    clean = [s.strip() for s in sentences if s.strip()]

    def ok(text: str) -> bool:
        return (max_chars is None or len(text) <= max_chars) and fits(text)

    if not ok(""):
        return None
    k = _largest(len(clean), lambda k: k == 0 or ok(" ".join(clean[:k])))
    if k > 0:
        return " ".join(clean[:k])
    if not clean:
        return ""
    return cut_with_ellipsis(clean[0], ok) or ""


def fit_draft(
    title: str,
    sentences: Sequence[str],
    fits: Callable[[Draft], bool],
    max_chars: int | None = None,
) -> Draft:
    """Fit a whole post: shorten the summary first, then drop the promo, then cut the title."""
    for promo in (True, False):

        def fits_with(summary: str, promo: bool = promo) -> bool:
            return fits(Draft(title, summary, promo))

        summary = fit_summary(sentences, fits_with, max_chars)
        if summary is not None:
            return Draft(title, summary, promo)
    short_title = cut_with_ellipsis(title, lambda t: fits(Draft(t, "", False)))
    if short_title is None:
        raise errors.TemplateError("the template leaves no room for the post within the limit")
    return Draft(short_title, "", False)
