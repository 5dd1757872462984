"""Summary candidates: the standfirst's or the body's lead sentences, promo boilerplate left out.

Sentences come from pysbd, a rule-based segmenter that knows each language's abbreviations
("M. Dupont", "Dr. Jones", "3 p.m."), so a cut never falls inside one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import pysbd
from markdown_it import MarkdownIt

# Closing invitations editors paste at the end of a story. The post carries real links instead.
BUILTIN_BOILERPLATE: dict[str, tuple[str, ...]] = {
    "fr": (
        r"\b(tu as|vous avez) aim[ée] (cet|cette|ce) (article|papier|sujet|vid[ée]o)",
        r"\brejoin(s|t|dre|gnez)[- ]?nous\b",
        r"\b(suivez|retrouvez)[- ]nous\b",
        r"\babonne[zs]?[- ](vous|toi)\b",
        r"\bcanaux de diffusion\b",
        r"\bne rien (rater|manquer) de nos\b",
        r"\bnotre (newsletter|cha[îi]ne|canal|serveur)\b",
    ),
    "en": (
        r"\b(did you|do you|if you) (like|liked|enjoy|enjoyed|love|loved) this "
        r"(article|story|post|piece)",
        r"\b(liked|enjoyed) (this|the) (article|story|post|piece)\b",
        r"\bjoin us on\b",
        r"\bfollow us\b",
        r"\bsubscribe to our\b",
        r"\bsign up (for|to) our\b",
        r"\bnever miss (a|an|our)\b",
        r"\bour (other )?channels\b",
    ),
    "de": (
        r"\b(hat|haben) (dir|ihnen|euch) (dieser|der) (artikel|beitrag|text) gefallen",
        r"\bfolg(e|t|en sie) uns\b",
        r"\babonnier(e|t|en sie) (unseren?|unsere)\b",
        r"\bunseren? (kan[aä]len?|newsletter|server)\b",
        r"\bverpasse (keine|nichts)\b",
    ),
    "es": (
        r"\bte (ha )?gust(ó|o|ado) (este|esta) (art[íi]culo|nota|noticia)",
        r"\b(le|les) (ha )?gust(ó|o|ado) (este|esta) (art[íi]culo|nota|noticia)",
        r"\b[úu]nete a nuestros?\b",
        r"\bs[íi]gue(nos| ?nos)\b",
        r"\bsuscr[íi]bete a nuestr[oa]s?\b",
        r"\bnuestros canales\b",
    ),
}

SEGMENTER_LANGUAGES = frozenset(
    [
        "en",
        "hi",
        "mr",
        "zh",
        "es",
        "am",
        "ar",
        "hy",
        "bg",
        "ur",
        "ru",
        "pl",
        "fa",
        "nl",
        "da",
        "fr",
        "my",
        "el",
        "it",
        "ja",
        "de",
        "kk",
        "sk",
    ]
)
_SENTENCE_END = tuple('.!?…:;»"”)')
_HEADING_MAX = 120


@dataclass(frozen=True, slots=True)
class Block:
    kind: Literal["paragraph", "heading"]
    text: str


def text_blocks(body: str) -> list[Block]:
    """Blocks of plain text: blank-line paragraphs; a short unpunctuated one is a heading."""
    chunks = [" ".join(c.split()) for c in re.split(r"\n\s*\n", body.strip())]
    chunks = [c for c in chunks if c]
    blocks: list[Block] = []
    for i, chunk in enumerate(chunks):
        is_heading = (
            0 < i < len(chunks) - 1
            and len(chunk) <= _HEADING_MAX
            and not chunk.endswith(_SENTENCE_END)
        )
        blocks.append(Block("heading" if is_heading else "paragraph", chunk))
    return blocks


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark")


def markdown_blocks(body: str) -> list[Block]:
    """Blocks of a Markdown body, as plain text (emphasis, links and code reduced to their text)."""
    tokens = _markdown().parse(body)
    blocks: list[Block] = []
    kind: Literal["paragraph", "heading"] = "paragraph"
    for token in tokens:
        if token.type == "heading_open":
            kind = "heading"
        elif token.type == "paragraph_open":
            kind = "paragraph"
        elif token.type == "inline" and token.children is not None:
            parts: list[str] = []
            for child in token.children:
                if child.type in ("text", "code_inline"):
                    parts.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    parts.append(" ")
            text = " ".join("".join(parts).split())
            if text:
                blocks.append(Block(kind, text))
    return blocks


def blocks_of(body: str, body_format: str) -> list[Block]:
    return markdown_blocks(body) if body_format == "markdown" else text_blocks(body)


@lru_cache(maxsize=32)
def _patterns(language: str, extra: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    # Every language's invitations, the story's own first: a story's declared language does
    # not stop an editor pasting the newsroom's usual promo in another one.
    first = BUILTIN_BOILERPLATE.get(language, ())
    others = [p for lang, ps in BUILTIN_BOILERPLATE.items() if lang != language for p in ps]
    return tuple(re.compile(p, re.IGNORECASE) for p in (*first, *others, *extra))


def is_boilerplate(text: str, language: str, extra: tuple[str, ...] = ()) -> bool:
    return any(p.search(text) for p in _patterns(language, extra))


def strip_closing_promo(
    blocks: Sequence[Block], language: str, extra: tuple[str, ...] = ()
) -> list[Block]:
    """Drop the trailing run of promo paragraphs (and a heading that only introduced them)."""
    kept = list(blocks)
    while kept and (is_boilerplate(kept[-1].text, language, extra) or kept[-1].kind == "heading"):
        kept.pop()
    return kept


@lru_cache(maxsize=32)
def _segmenter(language: str) -> pysbd.Segmenter:
    lang = language if language in SEGMENTER_LANGUAGES else "en"
    return pysbd.Segmenter(language=lang, clean=False)


def sentences(text: str, language: str) -> list[str]:
    """Split ``text`` into sentences with the language's rules (English rules if unknown).

    Joined with single spaces, the sentences give back ``text`` with its whitespace folded:
    nothing is inserted. A split that no whitespace follows in the text is no sentence end (the
    segmenter breaks ``…/(x)?a=1`` or ``''.__class__``), so it is undone.
    """
    segmenter = _segmenter(language.split("-")[0].lower())
    # The sentences are cut out of ``text`` itself, at the offsets where the segmenter's
    # sentences end: its own output may lose characters (it drops the "?!" of ":.?!").
    cuts: list[int] = []
    position = 0
    for segment in segmenter.segment(text):
        core = segment.strip()
        if not core:
            continue
        start = text.find(core, position)
        if start < 0:  # the segmenter changed the text from here on: no more cuts
            break
        position = start + len(core)
        if position < len(text) and text[position].isspace():
            cuts.append(position)
    bounds = zip([0, *cuts], [*cuts, len(text)], strict=True)
    return [piece for a, b in bounds if (piece := text[a:b].strip())]


def lead_sentences(
    *,
    standfirst: str | None,
    body: str,
    body_format: str,
    language: str,
    boilerplate: Iterable[str] = (),
    enough_chars: int = 8000,
) -> tuple[str, ...]:
    """The summary candidates, in order: the standfirst's sentences if given, else the body's.

    Segmenting stops once ``enough_chars`` are collected: no platform shows more than that.
    """
    extra = tuple(boilerplate)
    if standfirst and standfirst.strip():
        return tuple(sentences(" ".join(standfirst.split()), language))
    blocks = strip_closing_promo(blocks_of(body, body_format), language, extra)
    out: list[str] = []
    collected = 0
    for block in blocks:
        if collected >= enough_chars:
            break
        if block.kind == "paragraph":
            found = sentences(block.text, language)
            out.extend(found)
            collected += sum(len(s) for s in found)
    return tuple(out)
