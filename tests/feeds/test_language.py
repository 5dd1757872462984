"""Language detection on the project's own samples: accurate, and silent when unsure."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor import language

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "language_samples.tsv"


def samples() -> list[tuple[str, str, str]]:
    rows = []
    for line in SAMPLES.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, kind, text = line.split("\t")
            rows.append((code, kind, text))
    return rows


def test_the_samples_cover_seven_languages_with_titles_and_texts() -> None:
    rows = samples()
    for code in ("fr", "en", "de", "es", "it", "pt", "nl"):
        titles = [t for c, k, t in rows if c == code and k == "title"]
        assert len([r for r in rows if r[0] == code]) >= 40
        assert titles and all(3 <= len(t.split()) <= 8 for t in titles)


def test_top_answers_are_right_on_nearly_every_sample() -> None:
    rows = samples()
    wrong = [(c, t) for c, _, t in rows if (found := language.classify(t)) and found.language != c]
    assert len(wrong) <= len(rows) * 0.02, wrong


def test_a_confident_answer_is_never_wrong_on_the_samples() -> None:
    rows = samples()
    confident_wrong = [(c, t) for c, _, t in rows if language.detect(t) not in (c, None)]
    abstained = [t for c, _, t in rows if language.detect(t) is None]
    assert confident_wrong == []
    assert len(abstained) <= len(rows) * 0.15  # mostly very short headlines


def test_a_story_with_title_and_text_is_detected() -> None:
    assert (
        language.detect_story(
            "Stadtrat beschließt Sanierung der Schulen",
            "Der Stadtrat hat am Dienstagabend einen Plan zur Sanierung der Schulen beschlossen.",
        )
        == "de"
    )


@pytest.mark.parametrize("text", ["", "   ", "2026 — 42", "OK"])
def test_no_letters_no_answer(text: str) -> None:
    assert language.detect(text) is None


def test_below_the_threshold_the_answer_is_none() -> None:
    found = language.classify("Tribunal rejeita recurso dos moradores")
    assert found is not None
    assert language.detect("Tribunal rejeita recurso dos moradores", threshold=1.01) is None
    assert language.detect("Tribunal rejeita recurso dos moradores", threshold=0.0) == (
        found.language
    )
