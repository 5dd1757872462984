"""The template sandbox: confined to template folders, bounded, every failure a TemplateError."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from distributor import errors
from distributor.configload import load_config
from distributor.models import DeliveryStatus
from distributor.rendering import Renderer
from distributor.service import Service
from distributor.store import Store
from tests.conftest import FakeClock
from tests.helpers import draft, write_config

SECRET_LINE = "secret: keep-me-out-of-every-post"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A config folder: the YAML and a key next to it, templates in templates/."""
    (tmp_path / "config.yaml").write_text(f"{SECRET_LINE}\n", encoding="utf-8")
    (tmp_path / "dkim.pem").write_text("-----BEGIN RSA PRIVATE KEY-----\n", encoding="utf-8")
    (tmp_path / "templates").mkdir()
    return tmp_path


def template(folder: Path, name: str, text: str) -> None:
    path = folder / "templates" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def render(folder: Path, text: str, **context: Any) -> str:
    template(folder, "t.html.j2", text)
    return Renderer.for_config(folder).render("t.html.j2", context)


@pytest.mark.parametrize(
    "source",
    [
        '{% include "../config.yaml" %}',
        '{% include "templates/../../config.yaml" %}',
        '{% import "../dkim.pem" as key %}',
        '{% extends "../config.yaml" %}',
        '{% include "/etc/hostname" %}',
        '{% include "..\\\\config.yaml" %}',
    ],
)
def test_no_template_reaches_outside_the_template_folders(folder: Path, source: str) -> None:
    with pytest.raises(errors.TemplateError, match="out of the template folders") as caught:
        render(folder, source)
    assert "keep-me-out" not in str(caught.value)


def test_a_link_out_of_the_folder_is_refused(folder: Path) -> None:
    (folder / "templates" / "key.html.j2").symlink_to(folder / "dkim.pem")
    with pytest.raises(errors.TemplateError, match=r"is a link to .*outside the template folders"):
        render(folder, '{% include "key.html.j2" %}')


def test_templates_live_in_the_templates_folder(folder: Path) -> None:
    (folder / "loose.html.j2").write_text("<b>{{ title }}</b>", encoding="utf-8")
    renderer = Renderer.for_config(folder)
    with pytest.raises(errors.TemplateError, match=r"move it to .*templates/loose\.html\.j2"):
        renderer.template("loose.html.j2")
    template(folder, "email/done.html.j2", "own page")  # an admin's copy overrides the bundled one
    assert renderer.render("email/done.html.j2", {}) == "own page"
    # Its own templates may include the bundled ones.
    assert "<b>T</b>" in render(folder, '{% include "telegram/article.html.j2" %}', **post("T"))


def post(title: str) -> dict[str, Any]:
    return {"title": title, "summary": "", "url": None, "promo": None, "labels": {}}


@pytest.mark.parametrize(
    ("expression", "refused"),
    [
        ("9 ** (9 ** 9)", "9 ** 387420489"),
        ("2 ** 100000", "2 ** 100000"),
        ("(2 ** 4000) * (2 ** 4000)", "the product"),
        ('"x" * 1000000', "repeating 1 characters"),
        ("[0] * 100001", "repeating 1 characters or items 100001"),
        ('"%099999999d" % 1', "format field"),
        ('"%*d" % (99999999, 1)', "format field"),
        ('"x".ljust(100000000)', "ljust width"),
        ('"x".zfill(100000000)', "zfill width"),
        ('"x"|center(100000000)', "center width"),
    ],
)
def test_arithmetic_and_repetition_are_bounded(folder: Path, expression: str, refused: str) -> None:
    with pytest.raises(errors.TemplateError, match=re.escape(refused)):
        render(folder, f"{{{{ {expression} }}}}")


def test_ordinary_arithmetic_still_works(folder: Path) -> None:
    text = '{{ "=" * 78 }}|{{ 2 ** 64 }}|{{ "%05d" % 42 }}|{{ "ab".ljust(4) }}|{{ 3 * 4 }}'
    assert render(folder, text) == f"{'=' * 78}|{2**64}|00042|ab  |12"


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ nope }}", "'nope' is undefined"),
        ("{{ ''.__class__ }}", "unsafe"),
        ("{{ 1 + 'a' }}", "TypeError"),
        ('{% include "missing.html.j2" %}', "'missing.html.j2' not found"),
    ],
)
def test_every_render_failure_is_a_template_error_with_file_and_line(
    folder: Path, source: str, words: str
) -> None:
    with pytest.raises(errors.TemplateError) as caught:
        render(folder, f"<p>\n\n{source}</p>")
    message = str(caught.value)
    assert f"{folder / 'templates' / 't.html.j2'}:3: " in message and words in message


def test_the_line_is_the_included_templates_own(folder: Path) -> None:
    template(folder, "part.html.j2", "ok\n{{ 1 / 0 }}")
    with pytest.raises(errors.TemplateError, match=r"part\.html\.j2:2: template 't\.html\.j2'"):
        render(folder, '{% include "part.html.j2" %}')


def channel_config(folder: Path, **channel: Any) -> dict[str, Any]:
    settings = {"name": "tg", "platform": "telegram", "dry_run": True, "chat": "@abcd", **channel}
    return {
        "version": 1,
        "store": {"url": f"sqlite+aiosqlite:///{folder / 'store.sqlite3'}"},
        "outbox_dir": str(folder / "outbox"),
        "labels": {"en": {"cta": "Subscribe!"}},
        "channels": [settings],
    }


def test_check_config_renders_each_channels_templates_on_sample_stories(folder: Path) -> None:
    # Compiles fine; fails only once rendered (the bare sample has no url).
    template(folder, "tg.html.j2", "<b>{{ title }}</b>\n{{ url.upper() }}")
    template(folder, "mail.txt.j2", "{{ title }}\n{{ labels.nope }} {{ unsubscribe_url }}")
    data = channel_config(folder, template="tg.html.j2")
    data["channels"].append(
        {"name": "mail", "platform": "email", "dry_run": True, "text_template": "mail.txt.j2"}
    )
    with pytest.raises(errors.ConfigError) as caught:
        write_config(folder, data, "channels.yaml")
    issues = caught.value.issues
    tg_file, mail_file = folder / "templates" / "tg.html.j2", folder / "templates" / "mail.txt.j2"
    assert any(
        re.search(r"channels\.yaml:\d+: channels\[0\]\.template: .*sample story", p)
        and f"{tg_file}:2: " in p
        for p in issues
    ), issues
    assert any(
        "channels[1].text_template" in p and f"{mail_file}:2: " in p and "nope" in p for p in issues
    ), issues


def test_check_config_renders_with_the_admins_own_labels(folder: Path) -> None:
    template(folder, "tg.html.j2", "<b>{{ title }}</b> {{ labels.cta }}")
    loaded = write_config(folder, channel_config(folder, template="tg.html.j2"), "channels.yaml")
    assert load_config(loaded.path, environ={}).app.channels[0].name == "tg"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_a_template_failing_on_a_story_fails_the_delivery_for_good(
    folder: Path, store_url: str, clock: FakeClock
) -> None:
    # Passes check-config (the samples are not titled "Boom"), fails on the real story.
    template(
        folder,
        "tg.html.j2",
        '{% include "telegram/article.html.j2" %}\n{% if "Boom" in title %}{{ 1 / 0 }}{% endif %}',
    )
    data = channel_config(folder, template="tg.html.j2")
    data["store"]["url"] = store_url
    loaded = write_config(folder, data, "channels.yaml")
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        await store.add_article(draft(1, publish_at=clock(), title="Boom"))
    finally:
        await store.close()

    report = await Service(loaded, clock=clock, workdir=folder).run_once()

    assert report.failed == 1
    store = await Store.open(loaded.app.store, clock=clock)
    try:
        (article,) = await store.recent_articles()
        (delivery,) = await store.deliveries_for([article.id])
    finally:
        await store.close()
    assert delivery.status == DeliveryStatus.FAILED  # permanent: not retried
    assert delivery.last_error is not None
    assert "tg.html.j2:2: " in delivery.last_error and "ZeroDivisionError" in delivery.last_error
