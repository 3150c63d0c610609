"""Every example in docs/api.md is sent to the API and gets the answer the page describes (the counter-quick
example once sent `"C.E1": 0`, which that questionnaire rejects with a 400)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from tests.factories import small_city
from tests.respond.kiosk_factories import auth, enrolled_kiosk
from tests.results.factories import DEFAULT_NOW, fix_clock

DOC = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", DOC, re.S)


@pytest.fixture
def credential(app, db_session):
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 0
    fix_clock(app, DEFAULT_NOW)  # the examples are sent "now": the app's now, whatever the day
    small_city(db_session)
    return enrolled_kiosk(db_session)[1]


def _json_blocks() -> list[str]:
    """The page's JSON examples in order: a 400 answer, a heartbeat request, its answer."""
    return [b for k, b in BLOCKS if k == "json"]


def _now() -> str:
    return DEFAULT_NOW.isoformat()


def test_the_page_has_the_examples_this_test_sends():
    kinds = [k for k, _b in BLOCKS]
    assert kinds.count("http") == 1 and kinds.count("json") == 3 and kinds.count("sh") == 1


def test_the_submit_example_is_stored(client, credential):
    [http] = [b for k, b in BLOCKS if k == "http"]
    head, body = http.split("\n\n", 1)
    assert head.startswith("POST /api/v1/responses")
    payload = json.loads(body)
    payload["submitted_at"] = _now()
    resp = client.post("/api/v1/responses", json=payload, headers=auth(credential))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json() == {"id": payload["client_id"], "status": "created"}
    again = client.post("/api/v1/responses", json=payload, headers=auth(credential))
    assert (again.status_code, again.get_json()["status"]) == (200, "duplicate")


def test_the_curl_example_is_stored(client, credential):
    [sh] = [b for k, b in BLOCKS if k == "sh"]
    data = re.search(r"-d '(.*)'\s*$", sh, re.S).group(1)
    data = data.replace("""'"$(python3 -c 'import uuid;print(uuid.uuid4())')"'""", str(uuid.uuid4()))
    data = data.replace("""'"$(date -u +%FT%TZ)"'""", _now())
    resp = client.post("/api/v1/responses", json=json.loads(data), headers=auth(credential))
    assert resp.status_code == 201, resp.get_json()


def test_the_400_example_is_what_the_api_answers(client, credential):
    doc_400 = json.loads(_json_blocks()[0])
    body = {"client_id": str(uuid.uuid4()), "questionnaire": "counter-quick", "version": 1,
            "submitted_at": _now(), "language": "en", "answers": {"C.ATT": 7}}
    resp = client.post("/api/v1/responses", json=body, headers=auth(credential))
    assert resp.status_code == 400
    assert resp.get_json() == doc_400


def test_the_heartbeat_example_and_its_answer(client, credential):
    _doc_400, request_body, answer = (json.loads(b) for b in _json_blocks())
    resp = client.post("/api/v1/kiosk/heartbeat", json=request_body, headers=auth(credential))
    assert resp.status_code == 200
    got = resp.get_json()
    assert set(got) == set(answer) and got["status"] == answer["status"]
    # the newest published counter-quick (its number moves on with each new version)
    assert got["questionnaire"]["id"] == answer["questionnaire"]["id"]
    assert isinstance(got["questionnaire"]["version"], int) and got["questionnaire"]["version"] >= 1
