from __future__ import annotations

from pathlib import Path

import pytest

from distributor import errors
from distributor.config import (
    MAX_BOILERPLATE_PATTERN_CHARS,
    MAX_BOILERPLATE_PATTERNS,
    Filters,
    SummaryConfig,
)
from distributor.configload import load_config
from distributor.resources import config_dir

GOOD = """\
version: 1
timezone: Europe/Paris
promo:
  text: {fr: "Rejoins-nous :", en: "Join us:"}
  links:
    - {label: Telegram, url: "https://t.me/x", channel: tg}
    - {label: Site, url: "https://example.org"}
channels:
  - name: tg
    platform: telegram
    token: ${TG_TOKEN}
    chat: "@newsroom"
    filters: {languages: [fr], min_priority: 2}
  - name: hook
    platform: discord
    webhook_url: ${HOOK}
"""
WEBHOOK = "https://discord.com/api/webhooks/123456789012345678/" + "t" * 68


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(errors.ConfigError) as caught:
        load_config(path, environ=env or {})
    return caught.value.issues


def test_bundled_default_needs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISTRIBUTOR_CONFIG", raising=False)
    loaded = load_config(None, environ={})
    assert loaded.bundled
    assert [c.platform for c in loaded.app.channels] == ["telegram", "discord", "email"]
    assert all(c.dry_run for c in loaded.app.channels)
    assert loaded.app.store.url.startswith("sqlite")


def test_env_var_names_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("DISTRIBUTOR_CONFIG", str(path))
    loaded = load_config(None, environ={"TG_TOKEN": "1:" + "a" * 30, "HOOK": WEBHOOK})
    assert loaded.path == path and not loaded.bundled


def test_secrets_are_interpolated_and_held_secret(tmp_path: Path) -> None:
    token = "123456:" + "S" * 35
    loaded = load_config(write(tmp_path, GOOD), environ={"TG_TOKEN": token, "HOOK": WEBHOOK})
    tg = loaded.app.channel("tg")
    assert token not in repr(tg) and token not in str(loaded.app)
    assert token in loaded.secrets() and WEBHOOK in loaded.secrets()
    assert tg.filters.languages == ("fr",)


def test_every_error_is_reported_with_file_line_and_key(tmp_path: Path) -> None:
    text = """\
version: 1
timezone: Mars/Olympus
dispatch:
  batch_size: 0
  unknown_knob: true
channels:
  - name: tg
    platform: telegram
    token: ${MISSING_TOKEN}
    chat: "not a chat"
  - name: tg
    platform: discord
    webhook_url: "https://evil.example/hook"
  - name: x
    platform: carrier-pigeon
"""
    path = write(tmp_path, text)
    found = problems(path)
    expected = [
        (2, "timezone", "unknown time zone"),
        (4, "dispatch.batch_size", "greater than or equal to 1"),
        (5, "dispatch.unknown_knob", "unknown key"),
        (9, "channels[0].token", "MISSING_TOKEN is not set"),
        (10, "channels[0].chat", "@channelname"),
        (11, "channels[1].name", "duplicate channel name"),
        (11, "channels[1]", "webhook_url must look like"),
        (15, "channels[2].platform", "carrier-pigeon"),
    ]
    for line, key, words in expected:
        assert any(p.startswith(f"{path}:{line}: {key}") and words in p for p in found), (
            line,
            key,
            words,
            found,
        )


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nchannels:\n  - name: [unclosed\n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:") and "invalid YAML" in problem


def test_missing_file(tmp_path: Path) -> None:
    [problem] = problems(tmp_path / "nope.yaml")
    assert "not found" in problem


def test_unknown_template_and_template_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()  # custom templates live in templates/ next to the config
    (tmp_path / "templates" / "broken.html.j2").write_text("<b>{{ title </b>", encoding="utf-8")
    text = """\
version: 1
channels:
  - {name: a, platform: telegram, dry_run: true, chat: "@abcd", template: nowhere.html.j2}
  - {name: b, platform: telegram, dry_run: true, chat: "@abcd", template: broken.html.j2}
"""
    found = problems(write(tmp_path, text))
    assert any(":3: channels[0].template" in p and "not found" in p for p in found)
    assert any(":4: channels[1].template" in p and "syntax error" in p for p in found)


def test_promo_and_alerts_must_name_real_channels(tmp_path: Path) -> None:
    text = """\
version: 1
promo:
  links: [{label: X, url: "https://x.example", channel: ghost}]
alerts: {channel: phantom}
channels:
  - {name: a, platform: telegram, dry_run: true, chat: "@abcd"}
"""
    found = problems(write(tmp_path, text))
    assert any("promo.links[0].channel" in p and "ghost" in p for p in found)
    assert any("alerts.channel" in p and "phantom" in p for p in found)


def test_missing_version_is_an_error(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "channels: []\n"))
    assert any("version" in p and "required" in p for p in found)


def test_example_configs_are_valid() -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": "123:" + "x" * 35,
        "DISCORD_WEBHOOK_URL": WEBHOOK,
        "DISCORD_BOT_TOKEN": "y" * 60,
        "SMTP_PASSWORD": "pw",
        "CMS_WEBHOOK_SECRET": "h" * 32,
        "DISTRIBUTOR_WEB_SECRET": "s" * 32,
    }
    for path in sorted(config_dir().glob("*.yaml")):
        load_config(path, environ=env)


@pytest.mark.parametrize(
    ("filters", "tags", "language", "priority", "expected"),
    [
        (Filters(), [], "en", 0, True),
        (Filters(tags=("sport",)), ["Sport"], "en", 0, True),
        (Filters(tags=("sport",)), ["politics"], "en", 0, False),
        (Filters(exclude_tags=("sponsored",)), ["sponsored"], "en", 0, False),
        (Filters(languages=("fr",)), [], "en", 0, False),
        (Filters(min_priority=5), [], "en", 4, False),
        (Filters(min_priority=5), [], "en", 5, True),
        (Filters(max_priority=1), [], "en", 2, False),
    ],
)
def test_filters(
    filters: Filters, tags: list[str], language: str, priority: int, expected: bool
) -> None:
    assert filters.matches(tags, language, priority) is expected


def test_boilerplate_pattern_length_is_capped(tmp_path: Path) -> None:
    # Unbalanced on purpose: the length is refused before anything tries to compile it.
    too_long = "(" + "a" * MAX_BOILERPLATE_PATTERN_CHARS
    text = f'version: 1\nsummary:\n  boilerplate:\n    - "(?i)^publicité"\n    - "{too_long}"\n'
    path = write(tmp_path, text)
    [problem] = problems(path)
    assert problem.startswith(f"{path}:3: summary.boilerplate")
    assert f"at most {MAX_BOILERPLATE_PATTERN_CHARS} are allowed" in problem
    assert "pattern [1]" in problem and "invalid regular expression" not in problem


def test_boilerplate_pattern_count_is_capped(tmp_path: Path) -> None:
    patterns = "".join(f'    - "closing line {i}"\n' for i in range(MAX_BOILERPLATE_PATTERNS + 1))
    path = write(tmp_path, f"version: 1\nsummary:\n  boilerplate:\n{patterns}")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:3: summary.boilerplate")
    assert f"at most {MAX_BOILERPLATE_PATTERNS} patterns" in problem


def test_boilerplate_at_the_caps_is_accepted() -> None:
    longest = "a" * MAX_BOILERPLATE_PATTERN_CHARS
    summary = SummaryConfig(boilerplate=(longest,) * MAX_BOILERPLATE_PATTERNS)
    assert len(summary.boilerplate) == MAX_BOILERPLATE_PATTERNS


def test_dry_run_channel_targets_are_validated_too(tmp_path: Path) -> None:
    text = """\
version: 1
channels:
  - name: hook
    platform: discord
    dry_run: true
    webhook_url: "https://evil.example/hook"
  - name: quiet
    platform: discord
    dry_run: true
  - name: fine
    platform: discord
    dry_run: true
    webhook_url: ${HOOK}
"""
    path = write(tmp_path, text)
    [problem] = problems(path, {"HOOK": WEBHOOK})
    assert problem.startswith(f"{path}:3: channels[0]") and "webhook_url must look like" in problem


def test_a_bad_channel_is_reported_once_not_again_by_its_references(tmp_path: Path) -> None:
    text = """\
version: 1
promo:
  links: [{label: Telegram, url: "https://t.me/x", channel: tg}]
alerts: {channel: admins}
channels:
  - {name: tg, platform: telegram, dry_run: true, chat: "not a chat"}
  - {name: admins, platform: discord, webhook_url: "https://evil.example/hook"}
"""
    found = problems(write(tmp_path, text))
    assert any("channels[0].chat" in p for p in found)
    assert any("channels[1]" in p and "webhook_url must look like" in p for p in found)
    assert not [p for p in found if "no channel named" in p], found
    assert len(found) == 2, found
