"""/metrics: Prometheus text with latency by endpoint, submissions by outcome, kiosk queues, cache lookups;
refused from elsewhere without the token."""

from __future__ import annotations

import re

import pytest

from tests.factories import small_city
from tests.respond.kiosk_factories import auth, enrolled_kiosk, payload

LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def _value(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def city(db_session):
    return small_city(db_session)


def _metrics(client, **kwargs) -> str:
    resp = client.get("/metrics", environ_base=kwargs.pop("environ_base", LOCAL), **kwargs)
    assert resp.status_code == 200, resp.status_code
    assert resp.mimetype == "text/plain"
    return resp.get_data(as_text=True)


def test_submissions_latency_and_kiosk_queues_are_counted(app, client, db_session, city):
    app.config["HAILONG_KIOSK_MIN_INTERVAL_SECONDS"] = 0
    kiosk, credential = enrolled_kiosk(db_session)
    kiosk.queue_length = 7
    db_session.commit()
    before = _metrics(client)
    qv = city.questionnaires["counter-quick"]
    body = payload(qv.instrument, qv.version, {"C.ATT": 3, "C.HANDLING": 2})
    assert client.post("/api/v1/responses", json=body, headers=auth(credential)).status_code == 201
    assert client.post("/api/v1/responses", json=body, headers=auth(credential)).status_code == 200
    bad = payload(qv.instrument, qv.version, {"C.ATT": 9})
    assert client.post("/api/v1/responses", json=bad, headers=auth(credential)).status_code == 400
    after = _metrics(client)
    for outcome in ("stored", "duplicate", "rejected"):
        grew = (_value(after, "hailong_submissions_total", outcome=outcome)
                - _value(before, "hailong_submissions_total", outcome=outcome))
        assert grew == 1, outcome
    assert (_value(after, "hailong_request_duration_seconds_count", endpoint="api.submit_response", method="POST")
            - _value(before, "hailong_request_duration_seconds_count", endpoint="api.submit_response",
                     method="POST")) == 3
    assert _value(after, "hailong_kiosk_queue_length", stat="sum") == 7
    assert _value(after, "hailong_kiosks", state="enrolled") == 1
    assert 'hailong_cache_bytes{cache="results"}' in after
    assert "/r/" not in after  # labels are endpoint names, never paths (receipt tokens)


def test_refused_from_elsewhere_without_the_token(app, client):
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=outside).status_code == 404
    app.config["HAILONG_METRICS_TOKEN"] = "s3cret-token"
    assert client.get("/metrics", environ_base=outside).status_code == 404
    assert client.get("/metrics", environ_base=LOCAL).status_code == 404  # with a token, the token is needed
    ok = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200 and re.search(r"^hailong_kiosks", ok.get_data(as_text=True), re.M)
    wrong = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 404


def test_cache_hits_are_reported_and_budgets_are_settings(app, client, db_session):
    from survey.results import cache, month_cells

    cache.cached(db_session, ("metrics-test",), lambda: 1)
    cache.cached(db_session, ("metrics-test",), lambda: 1)
    text = _metrics(client)
    assert _value(text, "hailong_cache_lookups_total", cache="results", result="hit") >= 1
    assert _value(text, "hailong_cache_lookups_total", cache="results", result="miss") >= 1
    assert cache.max_bytes() == cache.MAX_BYTES and month_cells._budget() == month_cells.BUDGET
    app.config.update(HAILONG_RESULTS_CACHE_MB=50, HAILONG_MONTH_CELLS_MB=20)
    assert cache.max_bytes() == 50 * 2**20 and month_cells._budget() == 20 * 2**20
