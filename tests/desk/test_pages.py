"""The desk's pages: access rules, CSRF, login throttling, sessions, and the editor's forms."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from distributor.desk import audit
from distributor.desk.accounts import Accounts
from distributor.store import Store
from tests.desk.conftest import PASSWORD, Desk

PAGES = [
    "/desk/",
    "/desk/new",
    "/desk/stories/1",
    "/desk/stories/1/correct",
    "/desk/stories/1/retract",
    "/desk/calendar",
    "/desk/channels",
    "/desk/audit",
    "/desk/audit.csv",
]
POSTS = [
    "/desk/new",
    "/desk/logout",
    "/desk/language",
    "/desk/stories/1/correct",
    "/desk/stories/1/retract",
    "/desk/stories/1/retry",
    "/desk/stories/1/cancel",
    "/desk/stories/1/reschedule",
    "/desk/channels/telegram/pause",
    "/desk/channels/telegram/resume",
]
FRENCH = {
    "source": "text",
    "title": "Le marché de Noël ouvre ses portes à Strasbourg",
    "body": (
        "Le plus ancien marché de Noël de France a ouvert vendredi. Les visiteurs sont "
        "attendus par milliers pendant tout le mois de décembre.\n\n"
        "La ville a renforcé la sécurité autour des chalets."
    ),
    "url": "https://news.example.org/strasbourg/marche",
    "tags": "local",
}


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


async def login(http: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    form = await http.get("/desk/login")
    return await http.post(
        "/desk/login", data={"name": name, "password": password, "csrf": csrf_of(form)}
    )


async def test_every_page_refuses_anonymous_visitors(desk: Desk) -> None:
    for path in PAGES:
        answer = await desk.http.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/desk/login?next=")
    for path in POSTS:
        answer = await desk.http.post(path, data={"csrf": "x"})
        assert answer.status_code == 401, path


async def test_session_cookie_and_login(desk: Desk) -> None:
    done = await login(desk.http, "ana")
    assert done.status_code == 303 and done.headers["location"] == "/desk/"
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    page = await desk.http.get("/desk/")
    assert page.status_code == 200 and 'lang="fr"' in page.text  # ana reads French
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert [e.action for e in await audit.entries(desk.store)] == ["login"]


async def test_secure_cookie_on_https(store: Store, tmp_path: Path) -> None:
    https = await _https_desk(store, tmp_path)
    async with https.http:
        form = await https.http.get("/desk/login")
        assert "secure" in form.headers["set-cookie"].lower()


async def _https_desk(store: Store, tmp_path: Path) -> Desk:
    from distributor.web import WebContext, create_app
    from tests.desk.conftest import desk_config
    from tests.helpers import write_config

    data = desk_config(store.engine.url.render_as_string(False), tmp_path / "x")
    data["web"] = {"base_url": "https://news.example.org"}
    (tmp_path / "x").mkdir(exist_ok=True)
    loaded = write_config(tmp_path / "x", data)
    context = WebContext(loaded.app, store, loaded.renderer(), tmp_path / "out", store.clock)
    transport = httpx.ASGITransport(app=create_app(context))
    http = httpx.AsyncClient(transport=transport, base_url="https://news.example.org")
    return Desk(loaded, context, http, "", store)


async def test_sessions_end_when_idle_or_disabled(desk: Desk) -> None:
    await login(desk.http, "ana")
    desk.store.clock.advance(minutes=59)  # type: ignore[attr-defined]
    assert (await desk.http.get("/desk/")).status_code == 200  # and the session slides
    desk.store.clock.advance(minutes=59)  # type: ignore[attr-defined]
    assert (await desk.http.get("/desk/")).status_code == 200
    desk.store.clock.advance(minutes=61)  # type: ignore[attr-defined]
    assert (await desk.http.get("/desk/")).status_code == 303
    await login(desk.http, "ana")
    await Accounts(desk.store).disable("ana")
    assert (await desk.http.get("/desk/")).status_code == 303


async def test_forms_without_their_csrf_token_are_refused(desk: Desk) -> None:
    await login(desk.http, "ana")
    for token in (None, "forged"):
        data = {**FRENCH, "action": "queue"} | ({"csrf": token} if token else {})
        answer = await desk.http.post("/desk/new", data=data)
        assert answer.status_code == 403
    assert await desk.store.recent_articles() == []
    login_form = await desk.http.post("/desk/login", data={"name": "ana", "password": PASSWORD})
    assert login_form.status_code == 403


async def test_editors_cannot_reach_admin_pages(desk: Desk) -> None:
    await login(desk.http, "ana")
    csrf = csrf_of(await desk.http.get("/desk/"))
    for path in ("/desk/channels", "/desk/audit", "/desk/audit.csv"):
        assert (await desk.http.get(path)).status_code == 403, path
    paused = await desk.http.post("/desk/channels/telegram/pause", data={"csrf": csrf})
    assert paused.status_code == 403
    assert await desk.store.paused_channels() == {}


async def test_admins_pause_resume_and_export_the_audit_log(desk: Desk) -> None:
    await login(desk.http, "root")
    csrf = csrf_of(await desk.http.get("/desk/channels"))
    done = await desk.http.post(
        "/desk/channels/telegram/pause", data={"csrf": csrf, "reason": "bot token rotated"}
    )
    assert done.status_code == 303
    assert await desk.store.paused_channels() == {"telegram": "bot token rotated"}
    page = await desk.http.get("/desk/channels")
    assert "bot token rotated" in page.text
    await desk.http.post("/desk/channels/telegram/resume", data={"csrf": csrf})
    assert await desk.store.paused_channels() == {}
    exported = await desk.http.get("/desk/audit.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.splitlines()
    assert lines[0] == "id,at,actor,action,article_id,detail"
    assert [line.split(",")[3] for line in lines[1:]] == ["resume", "pause", "login"]


async def test_login_throttling_per_account_and_per_client(desk: Desk) -> None:
    for _ in range(5):
        assert (await login(desk.http, "ana", "wrong password")).status_code == 401
    blocked = await login(desk.http, "ana")  # the right password, too late
    assert blocked.status_code == 429 and "15 minute(s)" in blocked.text
    other = await login(desk.http, "root")  # another account from the same client still may
    assert other.status_code == 303
    desk.http.cookies.clear()
    desk.store.clock.advance(minutes=16)  # type: ignore[attr-defined]
    assert (await login(desk.http, "ana")).status_code == 303
    desk.http.cookies.clear()
    for n in range(20):
        await login(desk.http, f"nobody{n}", "wrong password")
    assert (await login(desk.http, "root")).status_code == 429  # this client, any account


async def test_a_new_story_keeps_what_was_typed_and_names_the_field(desk: Desk) -> None:
    await login(desk.http, "ana")
    csrf = csrf_of(await desk.http.get("/desk/new"))
    wrong = await desk.http.post(
        "/desk/new",
        data={**FRENCH, "priority": "high", "csrf": csrf, "action": "preview"},
    )
    assert wrong.status_code == 422
    assert 'id="e-priority"' in wrong.text and 'aria-invalid="true"' in wrong.text
    assert "Le marché de Noël ouvre ses portes" in wrong.text  # nothing lost
    no_title = await desk.http.post(
        "/desk/new", data={**FRENCH, "title": "", "csrf": csrf, "action": "preview"}
    )
    assert 'id="e-title"' in no_title.text, re.findall(r"class=\"error[^<]*<", no_title.text)
    assert "Le plus ancien marché de Noël" in no_title.text  # the text is kept
    shown = await desk.http.post("/desk/new", data={**FRENCH, "csrf": csrf, "action": "preview"})
    assert shown.status_code == 200
    assert 'id="detected-language"' in shown.text
    for channel in ("telegram", "discord", "email"):
        assert f'data-channel="{channel}"' in shown.text
    assert 'sandbox=""' in shown.text and "filters.languages" in shown.text
    assert await desk.store.recent_articles() == []
    queued = await desk.http.post("/desk/new", data={**FRENCH, "csrf": csrf, "action": "queue"})
    assert queued.status_code == 303
    story = await desk.http.get(queued.headers["location"])
    assert "Le marché de Noël" in story.text and "user:ana" in story.text


async def test_a_story_file_upload(desk: Desk) -> None:
    await login(desk.http, "ana")
    csrf = csrf_of(await desk.http.get("/desk/new"))
    content = "---\ntitle: Fichier\ntags: [local]\n---\nUn article envoyé en fichier. Il suffit.\n"
    shown = await desk.http.post(
        "/desk/new",
        data={"source": "file", "csrf": csrf, "action": "preview"},
        files={"file": ("story.md", content.encode(), "text/markdown")},
    )
    assert shown.status_code == 200, shown.text[:300]
    assert 'value="Fichier"' in shown.text  # now editable text
    bad = await desk.http.post(
        "/desk/new",
        data={"source": "file", "csrf": csrf, "action": "preview"},
        files={"file": ("story.json", b"{nope", "application/json")},
    )
    assert bad.status_code == 422 and 'id="e-file"' in bad.text and "invalid JSON" in bad.text


async def test_a_follow_up_from_the_story_page(desk: Desk) -> None:
    await login(desk.http, "ana")
    form = await desk.http.get("/desk/new")
    first = await desk.http.post(
        "/desk/new", data={**FRENCH, "csrf": csrf_of(form), "action": "queue"}
    )
    first_id = int(first.headers["location"].rsplit("/", 1)[1].split("?")[0])
    story = await desk.http.get(f"/desk/stories/{first_id}")
    link = re.search(r'href="([^"]*/desk/new\?follow_up_of=\d+)"', story.text)
    assert link, story.text[:2000]
    form = await desk.http.get(link.group(1))
    assert f'name="follow_up_of" type="number" value="{first_id}"' in form.text
    update = {**FRENCH, "url": "https://news.example.org/strasbourg/suite", "csrf": csrf_of(form)}
    wrong = await desk.http.post(
        "/desk/new", data={**update, "follow_up_of": "99999", "action": "queue"}
    )
    assert wrong.status_code == 422
    assert 'id="e-follow_up_of"' in wrong.text and "99999" in wrong.text
    assert 'value="99999"' in wrong.text  # what was typed stays
    queued = await desk.http.post(
        "/desk/new", data={**update, "follow_up_of": str(first_id), "action": "queue"}
    )
    assert queued.status_code == 303
    new_id = int(queued.headers["location"].rsplit("/", 1)[1].split("?")[0])
    stored = await desk.store.get_article(new_id)
    assert stored is not None and stored.follow_up_of == first_id
    page = await desk.http.get(f"/desk/stories/{new_id}")
    assert f'/desk/stories/{first_id}"' in page.text
