"""The editor's journey in a real browser (headless Chromium driven by Playwright): log in,
compose a French story without saying its language, see the three previews, schedule it, queue
it, watch its badges turn to sent (dry run), correct it, retract it.

Chromium comes from the distribution (``apt-get install chromium``), never downloaded by
Playwright. Without it the test skips, except when ``CI`` is set: there it fails. A failing run
saves a screenshot beside the test's temporary files and names it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from distributor.desk.accounts import Accounts
from distributor.desk.models import Role
from distributor.store import Store
from tests.desk.conftest import PASSWORD, desk_config
from tests.desk.live import LiveDesk
from tests.helpers import write_config

CHROMIUM = os.environ.get("DISTRIBUTOR_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 30_000
TITLE = "La médiathèque de Rennes ouvre le dimanche"
BODY = (
    "À partir de janvier, la médiathèque des Champs Libres ouvrira ses portes tous les "
    "dimanches après-midi. La mairie répond ainsi à une demande ancienne des habitants.\n\n"
    "Les horaires seront étendus de treize à dix-huit heures, avec une équipe renforcée."
)


def chromium() -> str:
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found is None:
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveDesk]:
    executable = chromium()  # noqa: F841  (fail or skip before starting anything)
    data = desk_config(f"sqlite+aiosqlite:///{tmp_path / 'desk.sqlite3'}", tmp_path)
    data["dispatch"] = {"tick_seconds": 1}
    loaded = write_config(tmp_path, data)

    async def setup(store: Store) -> None:
        await Accounts(store).add_user("ana", Role.EDITOR, PASSWORD, "fr")

    with LiveDesk(loaded, tmp_path, setup, dispatch=True) as server:
        yield server


def local(delta: timedelta) -> str:
    return (datetime.now(ZoneInfo("Europe/Paris")) + delta).strftime("%Y-%m-%dT%H:%M")


def test_the_editors_journey(live: LiveDesk, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=ARGS)
        page = browser.new_page(locale="fr-FR")  # the login page speaks the browser's language
        page.set_default_timeout(WAIT_MS)
        try:
            journey(page, live.url, expect)
        except BaseException:
            shot = tmp_path / "desk-journey-failure.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failure: {shot}")
            raise
        finally:
            browser.close()


def journey(page, root: str, expect) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{root}/desk/")
    page.get_by_label("Nom").fill("ana")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Articles")).to_be_visible()

    # Compose in French, language left empty: the desk detects it.
    page.get_by_role("link", name="Nouvel article").click()
    page.get_by_label("Titre").fill(TITLE)
    page.get_by_label("Texte", exact=True).fill(BODY)
    page.get_by_label("Lien").fill("https://news.example.org/rennes/mediatheque")
    page.get_by_role("button", name="Aperçu").click()
    expect(page.locator("#detected-language")).to_contain_text("fr")
    expect(page.locator('[data-channel="telegram"] .bubble')).to_contain_text("médiathèque")
    expect(page.locator('[data-channel="discord"] .embed-title')).to_have_text(TITLE)
    mail = page.frame_locator('[data-channel="email"] iframe.mail')
    expect(mail.locator("body")).to_contain_text("Champs Libres")
    expect(page.locator('[data-channel="english-only"] .excluded')).to_contain_text(
        "filters.languages"
    )
    expect(page.get_by_label("Titre")).to_have_value(TITLE)  # nothing typed is lost

    # Schedule it for tomorrow and queue it: it waits, and the calendar shows it.
    page.get_by_label("Publication").fill(local(timedelta(days=1)))
    page.get_by_role("button", name="Mettre en file").click()
    badges = page.locator("#story-badges")
    expect(badges.locator('[data-channel="telegram"]')).to_have_attribute("data-state", "waiting")
    page.get_by_role("link", name="Calendrier").click()
    expect(page.get_by_role("link", name=TITLE)).to_be_visible()
    page.get_by_role("link", name=TITLE).click()

    # Bring it forward to now: the dispatcher sends it (dry run), the badges turn by themselves.
    page.locator("#reschedule-at").fill(local(timedelta(minutes=-1)))
    page.get_by_role("button", name="Reprogrammer").click()
    for channel in ("telegram", "discord", "email"):
        expect(badges.locator(f'[data-channel="{channel}"]')).to_have_attribute(
            "data-state", "sent"
        )
    expect(badges.locator('[data-channel="english-only"]')).to_have_attribute(
        "data-state", "filtered"
    )

    # Correct it: preview the new version, save, and the posts are edited.
    page.get_by_role("link", name="Corriger").click()
    page.get_by_label("Titre").fill(TITLE + " (horaires précisés)")
    page.get_by_role("button", name="Aperçu").click()
    expect(page.locator('[data-channel="telegram"] .bubble')).to_contain_text("horaires précisés")
    page.get_by_role("button", name="Enregistrer la correction").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("horaires précisés")
    expect(badges.locator('[data-channel="telegram"]')).to_have_attribute("data-state", "sent")

    # Retract it, after confirming.
    page.get_by_role("link", name="Retirer").click()
    page.get_by_role("button", name="Oui, le retirer").click()
    for channel in ("telegram", "discord"):
        expect(badges.locator(f'[data-channel="{channel}"]')).to_have_attribute(
            "data-state", "deleted"
        )
