from __future__ import annotations

import pytest

from distributor import errors
from distributor.fitting import ELLIPSIS, Draft, cut_with_ellipsis, fit_draft, fit_summary

SENTENCES = ["One two three.", "Four five six seven.", "Eight nine."]


def test_keeps_every_sentence_that_fits() -> None:
    assert fit_summary(SENTENCES, lambda s: len(s) <= 100) == " ".join(SENTENCES)


def test_cuts_at_the_last_whole_sentence() -> None:
    # "One two three. Four five six seven." is 35 characters.
    assert fit_summary(SENTENCES, lambda s: len(s) <= 40) == "One two three. Four five six seven."


def test_cuts_the_first_sentence_at_a_word_with_an_ellipsis() -> None:
    result = fit_summary(SENTENCES, lambda s: len(s) <= 9)
    assert result == f"One two{ELLIPSIS}"


def test_trailing_punctuation_is_dropped_before_the_ellipsis() -> None:
    result = cut_with_ellipsis("Alpha, beta, gamma delta", lambda s: len(s) <= 13)
    assert result == f"Alpha, beta{ELLIPSIS}"


def test_a_single_huge_word_is_cut_by_characters() -> None:
    word = "x" * 5000
    result = fit_summary([word], lambda s: len(s) <= 50)
    assert result is not None
    assert result.endswith(ELLIPSIS) and len(result) == 50


def test_budget_applies_to_the_summary_text() -> None:
    assert fit_summary(SENTENCES, lambda s: True, max_chars=20) == "One two three."


def test_none_when_not_even_an_empty_summary_fits() -> None:
    assert fit_summary(SENTENCES, lambda s: False) is None


def test_draft_drops_the_promo_before_giving_up() -> None:
    def fits(draft: Draft) -> bool:
        return len(draft.title) + len(draft.summary) + (50 if draft.promo else 0) <= 30

    draft = fit_draft("Title", SENTENCES, fits)
    assert draft.promo is False
    assert draft.summary == "One two three."


def test_draft_cuts_the_title_as_a_last_resort() -> None:
    draft = fit_draft(
        "A very long title indeed", SENTENCES, lambda d: len(d.title) + len(d.summary) <= 12
    )
    assert draft.summary == "" and draft.promo is False
    assert draft.title == f"A very long{ELLIPSIS}"


def test_draft_raises_when_nothing_can_fit() -> None:
    with pytest.raises(errors.TemplateError):
        fit_draft("Title", SENTENCES, lambda d: False)
