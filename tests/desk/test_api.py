"""The CMS API: access, idempotent creation, problems naming the field, the actions, limits."""

from __future__ import annotations

from pathlib import Path

from distributor.desk import audit
from distributor.desk.accounts import Accounts
from distributor.ledger import Ledger
from distributor.store import Store
from distributor.types import MessageRef, SendResult
from tests.desk.conftest import Desk, open_desk
from tests.desk.test_pages import login

FRENCH = {
    "title": "Le tramway de Lyon prolongé jusqu'à Vaulx-en-Velin",
    "body": (
        "La métropole a voté hier soir le prolongement de la ligne de tramway. Les travaux "
        "commenceront au printemps et dureront deux ans.\n\n"
        "Les habitants attendaient cette nouvelle depuis longtemps."
    ),
    "url": "https://news.example.org/lyon/tramway",
    "tags": ["local"],
}
ROUTES = [
    ("POST", "/api/v1/stories"),
    ("GET", "/api/v1/stories"),
    ("GET", "/api/v1/stories/1"),
    ("POST", "/api/v1/preview"),
    ("POST", "/api/v1/stories/1/correct"),
    ("POST", "/api/v1/stories/1/retract"),
    ("POST", "/api/v1/stories/1/retry"),
    ("POST", "/api/v1/stories/1/cancel"),
    ("POST", "/api/v1/stories/1/reschedule"),
]


async def test_every_route_refuses_anonymous_and_revoked_tokens(desk: Desk) -> None:
    await Accounts(desk.store).create_token("old")
    old = (await Accounts(desk.store).create_token("older")).secret
    await Accounts(desk.store).revoke("older")
    for method, path in ROUTES:
        for headers in ({}, desk.auth("dst_forged"), desk.auth(old), {"Authorization": "Basic x"}):
            answer = await desk.http.request(method, path, json=FRENCH, headers=headers)
            assert answer.status_code == 401, (method, path, headers)
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["www-authenticate"].startswith("Bearer")
    assert await audit.entries(desk.store) == []


async def test_creation_is_idempotent_and_detects_the_language(desk: Desk) -> None:
    first = await desk.http.post("/api/v1/stories", json=FRENCH, headers=desk.auth())
    assert first.status_code == 201, first.text
    story = first.json()
    assert story["language"] == "fr"
    assert first.headers["location"] == f"/api/v1/stories/{story['id']}"
    states = {d["channel"]: d["state"] for d in story["deliveries"]}
    assert states == {
        "telegram": "waiting",
        "discord": "waiting",
        "email": "waiting",
        "english-only": "filtered",
    }
    again = await desk.http.post(
        "/api/v1/stories", json={**FRENCH, "title": "Autre titre"}, headers=desk.auth()
    )
    assert again.status_code == 200 and again.json()["id"] == story["id"]
    assert again.json()["title"] == FRENCH["title"]
    listed = await desk.http.get("/api/v1/stories", headers=desk.auth())
    assert [s["id"] for s in listed.json()["items"]] == [story["id"]]
    entries = await audit.entries(desk.store)
    assert [(e.actor, e.action, e.article_id) for e in entries] == [
        ("token:cms", "queue", story["id"])
    ]


async def test_problems_name_the_field(desk: Desk) -> None:
    cases = [
        ({**FRENCH, "title": ""}, "title"),
        ({**FRENCH, "priority": 5000}, "priority"),
        ({**FRENCH, "url": "ftp://x"}, "url"),
        ({**FRENCH, "language": "french!"}, "language"),
        ({**FRENCH, "publish_at": "next tuesday-ish"}, "publish_at"),
        ({**FRENCH, "publish_at": "in 99999999999 weeks"}, "publish_at"),
        ({**FRENCH, "title": "nul\x00"}, "title"),
        ({**FRENCH, "colour": "red"}, "colour"),
        ({"title": "no body"}, "body"),
    ]
    for body, field in cases:
        answer = await desk.http.post("/api/v1/stories", json=body, headers=desk.auth())
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["status"] == 422
        assert field in [e["field"] for e in problem["errors"]], (field, problem)
    broken = await desk.http.post(
        "/api/v1/stories",
        content=b"{not json",
        headers={**desk.auth(), "content-type": "application/json"},
    )
    assert broken.status_code == 400
    missing = await desk.http.get("/api/v1/stories/99999", headers=desk.auth())
    assert missing.status_code == 404 and "99999" in missing.json()["detail"]
    assert (await desk.http.get("/api/v1/stories/-1", headers=desk.auth())).status_code == 404
    bad_page = await desk.http.get("/api/v1/stories?limit=0&cursor=x", headers=desk.auth())
    assert {e["field"] for e in bad_page.json()["errors"]} == {"limit", "cursor"}


async def test_preview_has_no_side_effect(desk: Desk) -> None:
    answer = await desk.http.post("/api/v1/preview", json=FRENCH, headers=desk.auth())
    assert answer.status_code == 200, answer.text
    shown = {c["channel"]: c for c in answer.json()["channels"]}
    assert answer.json()["language"] == "fr" and answer.json()["language_detected"]
    assert shown["english-only"]["excluded_by"] == "filters.languages: takes en, not fr"
    assert "Le tramway de Lyon" in shown["telegram"]["text"]
    assert shown["telegram"]["length"] <= shown["telegram"]["limit"]
    assert shown["email"]["media_type"] == "message/rfc822"
    assert (await desk.store.recent_articles()) == []


async def test_actions_cancel_reschedule_retract(desk: Desk) -> None:
    created = (await desk.http.post("/api/v1/stories", json=FRENCH, headers=desk.auth())).json()
    base = f"/api/v1/stories/{created['id']}"
    moved = await desk.http.post(
        f"{base}/reschedule", json={"publish_at": "2026-12-24T18:00"}, headers=desk.auth()
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["story"]["publish_at"].startswith("2026-12-24T17:00")
    bad = await desk.http.post(f"{base}/reschedule", json={"publish_at": "x"}, headers=desk.auth())
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "publish_at"
    retried = await desk.http.post(f"{base}/retry", headers=desk.auth())
    assert retried.status_code == 200 and retried.json()["affected"] == 0
    corrected = await desk.http.post(
        f"{base}/correct", json={**FRENCH, "title": "Tramway : le vote"}, headers=desk.auth()
    )
    assert corrected.status_code == 200 and corrected.json()["story"]["version"] == 2
    cancelled = await desk.http.post(f"{base}/cancel", headers=desk.auth())
    assert cancelled.status_code == 200 and cancelled.json()["story"]["status"] == "retracted"
    twice = await desk.http.post(f"{base}/retract", headers=desk.auth())
    assert twice.status_code == 409
    actions = [e.action for e in await audit.entries(desk.store, article_id=created["id"])]
    assert actions == ["cancel", "correct", "retry", "reschedule", "queue"]


async def test_each_token_has_its_limit(store: Store, tmp_path: Path) -> None:
    desk = await open_desk(store, tmp_path, api_requests_per_minute=3)
    other = (await Accounts(store).create_token("other")).secret
    async with desk.http:
        codes = [
            (await desk.http.get("/api/v1/stories", headers=desk.auth())).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        limited = await desk.http.get("/api/v1/stories", headers=desk.auth())
        assert int(limited.headers["retry-after"]) >= 1
        assert (await desk.http.get("/api/v1/stories", headers=desk.auth(other))).status_code == 200
        store.clock.advance(seconds=61)  # type: ignore[attr-defined]
        assert (await desk.http.get("/api/v1/stories", headers=desk.auth())).status_code == 200


async def test_the_document_is_openapi_3_1_from_the_models(desk: Desk) -> None:
    document = (await desk.http.get("/api/v1/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    body = document["paths"]["/api/v1/stories"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/StoryIn")
    story_in = document["components"]["schemas"]["StoryIn"]
    assert story_in["properties"]["priority"]["maximum"] == 1000
    assert story_in["additionalProperties"] is False


async def test_a_story_links_to_each_post(store: Store, tmp_path: Path) -> None:
    keys = {
        "telegram": {"chat": "-1001234567890"},
        "discord": {"mode": "bot", "guild_id": 111111111111111111},
    }
    desk = await open_desk(store, tmp_path, channel_keys=keys)
    async with desk.http:
        created = await desk.http.post("/api/v1/stories", json=FRENCH, headers=desk.auth())
        story_id = created.json()["id"]
        ledger = Ledger(store)
        await ledger.route_due(desk.loaded.app.channels)
        refs = {
            "telegram": MessageRef("-1001234567890", "42", "text"),
            "discord": MessageRef("222222222222222222", "333333333333333333", "bot"),
            "email": MessageRef("email", "<1@news.example.org>", "smtp"),
        }
        for delivery in await ledger.claim("w", list(refs), 10, 60):
            assert await ledger.mark_started(delivery, "w")
            result = SendResult((refs[delivery.channel],), store.clock())
            assert await ledger.record_success(delivery, "w", result, delivery.version)
        story = (await desk.http.get(f"/api/v1/stories/{story_id}", headers=desk.auth())).json()
        posts = {d["channel"]: d["posts"] for d in story["deliveries"]}
        assert posts["telegram"][0]["url"] == "https://t.me/c/1234567890/42"
        assert posts["discord"][0]["url"] == (
            "https://discord.com/channels/111111111111111111/222222222222222222/333333333333333333"
        )
        assert posts["email"][0]["url"] is None and posts["email"][0]["message_id"]
        assert posts["english-only"] == []
        await login(desk.http, "ana")
        page = (await desk.http.get(f"/desk/stories/{story_id}")).text
        assert 'href="https://t.me/c/1234567890/42"' in page
        assert 'href="https://discord.com/channels/111111111111111111/' in page


async def test_a_follow_up_names_an_existing_story(desk: Desk) -> None:
    first = (await desk.http.post("/api/v1/stories", json=FRENCH, headers=desk.auth())).json()
    update = {**FRENCH, "url": "https://news.example.org/lyon/tramway-suite"}
    for wrong in (99999, 0, "trois"):
        refused = await desk.http.post(
            "/api/v1/stories", json={**update, "follow_up_of": wrong}, headers=desk.auth()
        )
        assert refused.status_code == 422, (wrong, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == ["follow_up_of"]
    assert len(await desk.store.recent_articles()) == 1
    created = await desk.http.post(
        "/api/v1/stories", json={**update, "follow_up_of": first["id"]}, headers=desk.auth()
    )
    assert created.status_code == 201, created.text
    stored = await desk.store.get_article(created.json()["id"])
    assert stored is not None and stored.follow_up_of == first["id"]
