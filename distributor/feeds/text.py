"""HTML fragments from feeds as plain text, through a real HTML parser (``html.parser``).

Entities are decoded, tags dropped, scripts, styles and other hidden elements left out, and
block elements become paragraphs separated by a blank line, as story bodies have them.
"""

from __future__ import annotations

from html.parser import HTMLParser

# Elements that start a new paragraph of text.
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})  # fmt: skip
_SKIPPED = frozenset({"script", "style", "noscript", "template", "head", "title", "iframe"})


class _TextCollector(HTMLParser):
    """Text of an HTML fragment: paragraphs per block element, hidden elements left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[list[str]] = [[]]
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "br":
            self.paragraphs[-1].append("\n")
        elif tag in _BLOCKS:
            self.paragraphs.append([])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.paragraphs[-1].append("\n")
        elif tag in _BLOCKS:
            self.paragraphs.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.paragraphs.append([])

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.paragraphs[-1].append(data)


def html_text(fragment: str) -> str:
    """Plain text of an HTML fragment: paragraphs separated by a blank line, spaces folded."""
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    paragraphs = []
    for parts in collector.paragraphs:
        lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
        text = "\n".join(line for line in lines if line)
        if text:
            paragraphs.append(text)
    return "\n\n".join(paragraphs)


def one_line(text: str) -> str:
    """``text`` on one line, runs of whitespace folded to one space."""
    return " ".join(text.split())
