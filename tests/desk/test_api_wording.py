"""The API's 422 answers name the field and say what is wrong in plain words."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from distributor.desk import schemas, wording
from tests.desk.conftest import Desk
from tests.desk.test_api import FRENCH

CASES: list[tuple[dict[str, Any], list[tuple[str, str]]]] = [
    ({"title": ""}, [("title", "must not be empty")]),
    ({"body": ""}, [("body", "must not be empty")]),
    ({"title": "x" * 301}, [("title", "must have at most 300 characters")]),
    ({"tags": ["x" * 65]}, [("tags[0]", "must have at most 64 characters")]),
    ({"tags": ["a"] * 51}, [("tags", "must have at most 50 items")]),
    ({"tags": "local"}, [("tags", "must be a list")]),
    ({"priority": 5000}, [("priority", "must be 1000 or less")]),
    ({"priority": "high"}, [("priority", "must be a whole number")]),
    ({"follow_up_of": 0}, [("follow_up_of", "must be 1 or more")]),
    ({"format": "html"}, [("format", "must be 'text' or 'markdown'")]),
    ({"notice": "loud"}, [("notice", "must be 'silent' or 'note'")]),
    ({"colour": "red"}, [("colour", "is not a known key")]),
    ({"title": "nul\x00"}, [("title", "must not contain NUL characters")]),
    ({"title": None}, [("title", "must be text")]),
    # A union (text or a number): one message, what it may be, or what is wrong with it.
    ({"id": 1.5}, [("id", "must be text or a whole number")]),
    ({"id": "x" * 257}, [("id", "must have at most 256 characters")]),
]


@pytest.mark.parametrize(("change", "expected"), CASES)
def test_each_problem_in_plain_words(
    change: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    body = json.dumps({"title": "A title", "body": "A body.", **change})
    with pytest.raises(ValidationError) as caught:
        schemas.CorrectionIn.model_validate_json(body)
    assert wording.problems(caught.value.errors(include_url=False)) == expected


def test_a_missing_key_and_a_body_that_is_no_object() -> None:
    with pytest.raises(ValidationError) as missing:
        schemas.StoryIn.model_validate_json('{"title": "A title"}')
    assert wording.problems(missing.value.errors()) == [("body", "is required")]
    with pytest.raises(ValidationError) as listed:
        schemas.Reschedule.model_validate_json("[]")
    assert wording.problems(listed.value.errors()) == [("body", "must be a JSON object")]


async def test_the_api_answers_with_the_field_and_the_plain_words(desk: Desk) -> None:
    answer = await desk.http.post(
        "/api/v1/stories", json={**FRENCH, "title": "", "priority": 5000}, headers=desk.auth()
    )
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["detail"] == "title: must not be empty; priority: must be 1000 or less"
    assert problem["errors"] == [
        {"field": "title", "message": "must not be empty"},
        {"field": "priority", "message": "must be 1000 or less"},
    ]
