"""n_eff beside n (agency page, Home Affairs comparison): an index's p(1−p)/V counts yes/no answers, and a
response gives several, so it exceeded n (R `survey` gives the same variance: docs/methodology-design.md "n_eff of
an index").  Pages show it at most n and say so; the funnel keeps p(1−p)/V, whose limits it sets."""

from __future__ import annotations

import csv
import io

import pytest

from analysis.estimate import estimate
from analysis.result import result_table
from survey.questionnaire_versions.service import questionnaire_for
from tests.dashboard.helpers import get, login
from tests.results.factories import city_with_responses, reference_totals, respondent_frame


@pytest.fixture
def data(db_session):
    return city_with_responses(db_session, per_point=36)


def _csv(resp) -> list[dict[str, str]]:
    assert resp.status_code == 200
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))


def test_an_index_shows_n_eff_at_most_n(client, db_session, data):
    q, _ = questionnaire_for(db_session, data.qv_id)
    spec = q.index_spec()
    t = reference_totals(respondent_frame(db_session, data.qv_id), spec, ("agency",))
    ref = result_table(estimate(t, spec.measures, ("agency",)), "logit", n_min=30).set_index(["domain", "measure"])
    row = ref.loc[("UBND-BT", "OVERALL")]
    # the case: the index's variance is that of more than n yes/no answers
    assert row["estimate"] * (1 - row["estimate"]) / row["se"] ** 2 > 1.2 * row["n"]
    login(client, "noivu")
    page = get(client, "/dashboard/agency/UBND-BT", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "n_eff: effective number of responses, at most n" in page
    shown = {r["Code"]: r for r in _csv(client.get("/dashboard/agency/UBND-BT?format=csv&table=indices",
                                                   headers={"Accept-Language": "en"}))}
    assert float(shown["OVERALL"]["n_eff"]) == int(shown["OVERALL"]["n"]) == row["n"]
    assert all(float(r["n_eff"]) <= int(r["n"]) for r in shown.values() if r["n_eff"])
    compared = _csv(client.get("/homeaffairs/export.csv?level=agency&measure=OVERALL&table=estimates",
                               headers={"Accept-Language": "en"}))
    assert compared and all(float(r["n_eff"]) <= int(r["n"]) for r in compared if r["n_eff"])
    assert any(float(r["n_eff"]) == int(r["n"]) for r in compared if r["n_eff"])
