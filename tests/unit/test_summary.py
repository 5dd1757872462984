from __future__ import annotations

from distributor import summary
from distributor.resources import samples_dir

FRENCH = (samples_dir() / "pont-saone.fr.txt").read_text(encoding="utf-8")


def body_of(text: str) -> str:
    return text.split("\n", 1)[1]


def test_plain_text_blocks_find_the_subheading_and_paragraphs() -> None:
    blocks = summary.text_blocks(body_of(FRENCH))
    kinds = [b.kind for b in blocks]
    assert kinds.count("heading") == 1
    heading = next(b for b in blocks if b.kind == "heading")
    assert heading.text == "Une fréquentation attendue de 8000 passages par jour"
    # Lines of one paragraph are joined, not kept as hard breaks.
    assert blocks[-1].text.startswith(
        "Alors rejoins-nous sur nos différents canaux de diffusion pour"
    )


def test_closing_promo_is_left_out_of_the_lead() -> None:
    lead = summary.lead_sentences(
        standfirst=None, body=body_of(FRENCH), body_format="text", language="fr"
    )
    joined = " ".join(lead)
    assert "Tu as aimé" not in joined
    assert "rejoins" not in joined
    assert lead[0].startswith("La passerelle Jeanne-Barret a été ouverte")
    assert lead[-1].endswith("d'ici la fin de l'année.")


def test_subheadings_never_become_summary_sentences() -> None:
    lead = summary.lead_sentences(
        standfirst=None, body=body_of(FRENCH), body_format="text", language="fr"
    )
    assert "Une fréquentation attendue de 8000 passages par jour" not in lead


def test_french_sentences_respect_abbreviations_and_quotes() -> None:
    text = "M. Dupont est arrivé à 9 h. Il a dit « bonjour » à tous. Puis il est reparti."
    assert summary.sentences(text, "fr") == [
        "M. Dupont est arrivé à 9 h.",
        "Il a dit « bonjour » à tous.",
        "Puis il est reparti.",
    ]


def test_english_sentences_respect_abbreviations() -> None:
    text = "Dr. Khan arrived at 6 a.m. on Friday. The turbines started. Fishermen worried."
    assert summary.sentences(text, "en") == [
        "Dr. Khan arrived at 6 a.m. on Friday.",
        "The turbines started.",
        "Fishermen worried.",
    ]


def test_standfirst_wins_over_the_body() -> None:
    lead = summary.lead_sentences(
        standfirst="The editor wrote this. It is short.",
        body="Body sentence one. Body sentence two.",
        body_format="text",
        language="en",
    )
    assert lead == ("The editor wrote this.", "It is short.")


def test_english_promo_and_configured_boilerplate_are_removed() -> None:
    body = (
        "The council voted on Monday.\n\nThe budget grows by 3%.\n\n"
        "Brought to you by the Evening Gazette team.\n\n"
        "Liked this story? Follow us on our channels."
    )
    lead = summary.lead_sentences(
        standfirst=None,
        body=body,
        body_format="text",
        language="en",
        boilerplate=[r"brought to you by"],
    )
    assert lead == ("The council voted on Monday.", "The budget grows by 3%.")


def test_markdown_body_is_reduced_to_text() -> None:
    body = (
        "# Heading\n\nA **bold** claim with a [link](https://x.example). Second one."
        "\n\n## Sub\n\nMore."
    )
    lead = summary.lead_sentences(standfirst=None, body=body, body_format="markdown", language="en")
    assert lead == ("A bold claim with a link.", "Second one.", "More.")


def test_unknown_language_falls_back_to_english_rules() -> None:
    assert summary.sentences("Hello there. General Kenobi.", "xx") == [
        "Hello there.",
        "General Kenobi.",
    ]
