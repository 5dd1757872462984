"""The desk's correction form and the API choose how a correction tells readers.

``notice`` is ``silent`` or ``note``; left out, the configuration's ``corrections.notice``
(``silent`` here) applies. The choice is stored on the story and named in the audit log.
"""

from __future__ import annotations

from sqlalchemy import select

from distributor.desk import api, audit
from distributor.models import Article
from tests.desk.conftest import Desk
from tests.desk.test_api import FRENCH as STORY
from tests.desk.test_pages import FRENCH as FORM
from tests.desk.test_pages import csrf_of, login


async def stored_notice(desk: Desk, article_id: int) -> str | None:
    async with desk.store.session() as session:
        notice: str | None = await session.scalar(
            select(Article.correction_notice).where(Article.id == article_id)
        )
    return notice


async def correction_details(desk: Desk, article_id: int) -> list[str]:
    entries = await audit.entries(desk.store, article_id=article_id)
    return [e.detail for e in reversed(entries) if e.action == "correct"]


async def test_the_api_takes_the_notice_and_defaults_to_the_configured_one(desk: Desk) -> None:
    created = (await desk.http.post("/api/v1/stories", json=STORY, headers=desk.auth())).json()
    base = f"/api/v1/stories/{created['id']}"
    noted = await desk.http.post(
        f"{base}/correct", json={**STORY, "title": "Tramway : le vote", "notice": "note"},
        headers=desk.auth(),
    )  # fmt: skip
    assert noted.status_code == 200, noted.text
    assert await stored_notice(desk, created["id"]) == "note"
    default = await desk.http.post(
        f"{base}/correct", json={**STORY, "title": "Tramway : le vote final"}, headers=desk.auth()
    )
    assert default.status_code == 200, default.text
    assert await stored_notice(desk, created["id"]) is None  # the configured one, when sent
    assert await correction_details(desk, created["id"]) == [
        "Tramway : le vote (notice: note)",
        "Tramway : le vote final (notice: silent)",
    ]
    loud = await desk.http.post(
        f"{base}/correct", json={**STORY, "notice": "loud"}, headers=desk.auth()
    )
    assert loud.status_code == 422
    assert [e["field"] for e in loud.json()["errors"]] == ["notice"]
    assert (
        default.json()["story"]["version"]
        == 3
        == (await desk.http.get(base, headers=desk.auth())).json()["version"]
    )  # the refused one changed nothing


def test_the_openapi_document_offers_the_two_notices() -> None:
    document = api.openapi("http://127.0.0.1")
    body = document["paths"]["/api/v1/stories/{id}/correct"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    correction = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    notice = correction["properties"]["notice"]
    assert {"enum": ["silent", "note"], "type": "string"} in notice["anyOf"]
    assert "notice" not in correction.get("required", [])
    story = document["components"]["schemas"]["StoryIn"]
    assert "notice" not in story["properties"]  # queueing a story has no notice


async def test_the_desk_form_offers_the_notice_and_records_the_choice(desk: Desk) -> None:
    await login(desk.http, "ana")
    new = await desk.http.get("/desk/new")
    queued = await desk.http.post(
        "/desk/new", data={**FORM, "action": "queue", "csrf": csrf_of(new)}
    )
    assert queued.status_code == 303, queued.text
    [story] = await desk.store.recent_articles()
    path = f"/desk/stories/{story.id}/correct"
    form = await desk.http.get(path)
    assert form.status_code == 200
    assert "Prévenir les lecteurs" in form.text  # ana reads French
    assert '<option value="silent" selected>' in form.text  # the configured default
    assert '<option value="note" >' in form.text
    fields = {**FORM, "title": "Marché de Noël : record d'affluence", "csrf": csrf_of(form)}
    refused = await desk.http.post(path, data={**fields, "action": "save", "notice": "loud"})
    assert refused.status_code == 422
    assert "façons proposées de prévenir les lecteurs" in refused.text
    assert await correction_details(desk, story.id) == []
    preview = await desk.http.post(path, data={**fields, "action": "preview", "notice": "note"})
    assert '<option value="note" selected>' in preview.text  # the choice survives a preview
    saved = await desk.http.post(path, data={**fields, "action": "save", "notice": "note"})
    assert saved.status_code == 303, saved.text
    assert await stored_notice(desk, story.id) == "note"
    assert await correction_details(desk, story.id) == [
        "Marché de Noël : record d'affluence (notice: note)"
    ]
