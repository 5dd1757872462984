from __future__ import annotations

import json
import zoneinfo
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from distributor import errors
from distributor.ingest import IngestOptions, read_file, read_stories
from distributor.resources import samples_dir

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def options(**kwargs: object) -> IngestOptions:
    return IngestOptions(now=NOW, zone=PARIS, **kwargs)  # type: ignore[arg-type]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_plain_text_story_in_the_newsroom_shape() -> None:
    [parsed] = read_file(samples_dir() / "pont-saone.fr.txt", options(url="https://ex.org/a"))
    draft = parsed.draft
    assert draft.title.startswith("Lyon : un nouveau pont piéton")
    assert draft.language == "fr"  # from the file name
    assert draft.url == "https://ex.org/a"
    assert draft.body.startswith("La passerelle Jeanne-Barret")
    assert draft.publish_at == NOW
    assert draft.dedup_key == "url:https://ex.org/a"


def test_markdown_front_matter_fields() -> None:
    [parsed] = read_file(samples_dir() / "tidal-station.en.md", options())
    draft = parsed.draft
    assert draft.external_id == "harbour-tidal-2026-11"
    assert draft.image == "https://news.example.org/media/tidal-turbines.jpg"
    assert draft.tags == ("energy", "environment", "local")
    assert draft.priority == 5
    assert draft.standfirst is not None and draft.standfirst.startswith("Four turbines")
    assert draft.body_format == "markdown"
    assert draft.dedup_key == "id:harbour-tidal-2026-11"


def test_markdown_title_from_a_leading_heading(tmp_path: Path) -> None:
    path = write(tmp_path, "s.md", "---\ntags: a\n---\n# The title\n\nBody text here.\n")
    [parsed] = read_file(path, options())
    assert parsed.draft.title == "The title"
    assert parsed.draft.body == "Body text here."


def test_json_list_gives_several_stories(tmp_path: Path) -> None:
    stories = [
        {"title": "One", "body": "First body.", "publish_at": "2026-12-01T08:00"},
        {"title": "Two", "body": "Second body.", "tags": "a, b", "unknown": 1},
    ]
    parsed = read_file(write(tmp_path, "s.json", json.dumps(stories)), options())
    assert [p.draft.title for p in parsed] == ["One", "Two"]
    # A naive time is in the newsroom's zone (Paris is UTC+1 in December).
    assert parsed[0].draft.publish_at == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    assert parsed[1].draft.tags == ("a", "b")
    assert any("unknown" in note for note in parsed[1].notes)


def test_a_bad_entry_of_a_json_list_spares_the_others(tmp_path: Path) -> None:
    stories = [
        {"title": "One", "body": "First body."},
        "not an object",
        {"title": "", "body": "No title."},
        {"title": "Four", "body": "Fourth body."},
    ]
    path = write(tmp_path, "export.json", json.dumps(stories))
    found = read_stories(path, options())
    assert [p.draft.title for p in found.stories] == ["One", "Four"]
    assert found.problems == [
        f"{path}[1]: a story must be a JSON object",
        f"{path}[2]: the story has no title",
    ]
    assert found.stories[1].draft.source == "export.json"
    # A correction takes one whole file: any bad entry refuses it.
    with pytest.raises(errors.IngestError, match=r"export\.json\[1\]"):
        read_file(path, options())


def test_command_line_options_win(tmp_path: Path) -> None:
    path = write(tmp_path, "s.md", "---\ntitle: T\npriority: 1\ntags: [x]\n---\nBody.\n")
    [parsed] = read_file(path, options(at="in 2h", priority=9, tags=("breaking",), language="de"))
    draft = parsed.draft
    assert draft.publish_at == NOW + timedelta(hours=2)
    assert draft.priority == 9
    assert draft.tags == ("x", "breaking")
    assert draft.language == "de"


def test_same_text_gives_the_same_dedup_key(tmp_path: Path) -> None:
    a = read_file(write(tmp_path, "a.txt", "Title\n\nBody."), options())[0].draft
    b = read_file(write(tmp_path, "b.txt", "Title\n\nBody."), options())[0].draft
    assert a.dedup_key == b.dedup_key and a.dedup_key.startswith("sha256:")


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.txt", "", "has no title"),
        ("notitle.json", '{"body": "x"}', "has no title"),
        ("nobody.txt", "Just a title\n", "has no body"),
        ("binary.txt", b"\x00\x01\x02title", "binary file"),
        ("latin1.txt", "Caf\xe9\n\nbody".encode("latin-1"), "not UTF-8"),
        ("badurl.json", '{"title": "T", "body": "B", "url": "javascript:alert(1)"}', "not a valid"),
        ("crlf.json", '{"title": "T\\r\\nBcc: x@y", "body": "B"}', "line break"),
        ("badjson.json", '{"title": ', "invalid JSON"),
        ("badprio.json", '{"title": "T", "body": "B", "priority": "high"}', "priority"),
        ("badtime.json", '{"title": "T", "body": "B", "publish_at": "someday"}', "publish time"),
    ],
)
def test_bad_files_are_refused_with_the_file_named(
    tmp_path: Path, name: str, content: str | bytes, expected: str
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(errors.IngestError) as caught:
        read_file(path, options())
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", "Title\n\n" + "word " * 1000)
    with pytest.raises(errors.IngestError, match="too large"):
        read_file(path, options(max_bytes=1000))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(errors.IngestError, match="no such file"):
        read_file(tmp_path / "nope.txt", options())
    with pytest.raises(errors.IngestError, match="directory"):
        read_file(tmp_path, options())


def test_a_plain_text_title_is_text_even_with_ampersands_and_angle_brackets(
    tmp_path: Path,
) -> None:
    title = "Procter & Gamble, AT&T and <Big> Tech: the Q3 earnings in 5 charts"
    path = write(tmp_path, "q3.json", json.dumps({"title": title, "body": "Earnings rose."}))
    assert read_file(path, options())[0].draft.title == title
