"""`flask demo`: the Cần Thơ structures, accounts, counts, determinism, and true values that match the model."""

from __future__ import annotations

import csv
import io
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from survey.auth.models import User
from survey.auth.passwords import verify_password
from survey.demo.cantho import DISTRICTS_2022, structure
from survey.demo.model import DemoModel
from survey.demo.truth import truth_csv, truth_path
from survey.demo.users import DEMO_USERS
from survey.org.models import Agency, Level, ServicePoint, ServiceVolume, Unit
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.respond.export import export_frame
from survey.respond.models import Response, ResponseTally


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_demo_2022_loads_the_three_tier_city(runner, db_session):
    result = runner.invoke(args=["demo", "--responses", "400"])
    assert result.exit_code == 0, result.output
    assert [lv.code for lv in db_session.scalars(select(Level).order_by(Level.rank))] == ["city", "district", "commune"]
    city = db_session.scalar(select(Unit).where(Unit.parent_id.is_(None)))
    assert city.name_vi == "Thành phố Cần Thơ"
    districts = {u.name_vi: u for u in city.children}
    assert set(districts) == {f"{kind} {name}" for _, kind, name, _ in DISTRICTS_2022}
    assert "Quận Ninh Kiều" in districts and "Huyện Vĩnh Thạnh" in districts
    assert all(len(d.children) >= 3 for d in districts.values())
    assert "Phường Cái Khế" in {c.name_vi for c in districts["Quận Ninh Kiều"].children}
    kinds = {a.kind for a in db_session.scalars(select(Agency))}
    assert kinds == {"department", "people_committee", "service_centre"}
    centre = db_session.scalar(select(Agency).where(Agency.kind == "service_centre"))
    assert centre.name_vi.startswith("Trung tâm Phục vụ hành chính công")
    assert count(db_session, Response) == 400
    assert db_session.scalar(select(func.sum(ResponseTally.count))) == 400
    n_sp = count(db_session, ServicePoint)
    assert count(db_session, ServiceVolume) == n_sp * 24
    periods = db_session.execute(select(func.min(Response.period), func.max(Response.period))).one()
    assert periods == (date(2021, 1, 1), date(2022, 12, 1))
    assert {c for (c,) in db_session.execute(select(Response.channel).distinct())} == {"kiosk", "qr"}
    instruments = {q for (q,) in db_session.execute(
        select(QuestionnaireVersion.instrument).join(Response).distinct())}
    assert instruments == {"counter-quick", "sipas-2017", "papi-services"}


def test_demo_2025_is_two_tier(runner, db_session):
    result = runner.invoke(args=["demo", "--structure", "2025", "--responses", "200"])
    assert result.exit_code == 0, result.output
    assert [lv.code for lv in db_session.scalars(select(Level).order_by(Level.rank))] == ["city", "commune"]
    city = db_session.scalar(select(Unit).where(Unit.parent_id.is_(None)))
    assert all(u.level_code == "commune" and not u.children for u in city.children)
    assert "Phường Ninh Kiều" in {u.name_vi for u in city.children}
    assert db_session.scalar(select(func.min(Response.period))) == date(2024, 11, 1)


def test_demo_accounts_cover_every_role_with_scopes(runner, db_session):
    runner.invoke(args=["demo", "--responses", "0"])
    users = {u.role: u for u in db_session.scalars(select(User))}
    assert set(users) == {"admin", "home_affairs", "unit_manager", "agency_viewer"}
    assert users["unit_manager"].unit.code == "NK"
    assert users["agency_viewer"].agency.kind == "department"
    for du in DEMO_USERS:
        assert verify_password(users[du.role].password_hash, du.password)
    printed = runner.invoke(args=["demo", "--print-logins"])
    assert printed.exit_code == 0
    for du in DEMO_USERS:
        assert du.username in printed.output and du.password in printed.output
    assert "http" not in printed.output


def test_if_empty_skips_and_a_second_plain_load_is_refused(runner, db_session):
    runner.invoke(args=["demo", "--responses", "50"])
    skipped = runner.invoke(args=["demo", "--if-empty"])
    assert skipped.exit_code == 0 and "not loaded" in skipped.output
    refused = runner.invoke(args=["demo"])
    assert refused.exit_code == 1 and "already has an administrative tree" in refused.output
    assert count(db_session, Response) == 50


def test_demo_refuses_production(runner, app, db_session):
    app.config["HAILONG_PRODUCTION"] = True
    result = runner.invoke(args=["demo", "--responses", "10"])
    assert result.exit_code == 1 and "production" in result.output
    assert count(db_session, Unit) == 0


def test_demo_is_deterministic(runner, db_session, tmp_path):
    """The same seed gives the same export in a second, separate database."""
    from survey import create_app
    from survey.extensions import db as _db

    runner.invoke(args=["demo", "--responses", "300", "--seed", "7"])
    first = export_frame(db_session)
    url = str(_db.engine.url)
    other = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'other.sqlite'}",
                        "SECRET_KEY": "x"})
    try:
        with other.app_context():
            from survey.migrate import upgrade

            upgrade(_db.engine)
            assert other.test_cli_runner().invoke(args=["demo", "--responses", "300", "--seed", "7"]).exit_code == 0
            second = export_frame(_db.session)
            _db.session.remove()
    finally:
        _db.configure(url)
    assert first.equals(second)
    assert len(first) == 300


@pytest.mark.slow
def test_default_size_loads_twenty_thousand_responses(runner, db_session):
    """How long it takes is a benchmark figure (README: `time flask --app wsgi demo`), not a timed test."""
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert count(db_session, Response) == 20000


# ------------------------------------------------------------------ the model and its true values (no database)

def test_simulation_is_deterministic_and_seed_dependent():
    st = structure("2022")
    a, b, c = DemoModel(st, 5).simulate(500), DemoModel(st, 5).simulate(500), DemoModel(st, 6).simulate(500)
    assert a.client_id == b.client_id and a.submitted_at == b.submitted_at
    assert all(np.array_equal(a.values[k], b.values[k]) for k in a.values)
    assert a.client_id != c.client_id


def test_item_nonresponse_and_no_opinion_rates():
    sim = DemoModel(structure("2022")).simulate(20000)
    values = sim.values["sipas-2017"][:, :-1]  # the last item (OVERALL.SAT) is required
    assert 0.025 < (values < 0).mean() < 0.035
    assert 0.015 < (values == 0).mean() < 0.025


@pytest.mark.parametrize("name", ["2022", "2025"])
def test_true_values_in_the_repository_match_the_model(name):
    shipped = list(csv.DictReader(io.StringIO(truth_path(name).read_text(encoding="utf-8"))))
    fresh = list(csv.DictReader(io.StringIO(truth_csv(name))))
    key = ("instrument", "agency", "measure")
    assert [tuple(r[k] for k in key) for r in shipped] == [tuple(r[k] for k in key) for r in fresh]
    for s, f in zip(shipped, fresh, strict=True):
        assert float(s["true_value"]) == pytest.approx(float(f["true_value"]), abs=2e-6)


def test_weighted_estimates_from_simulated_answers_recover_the_true_values():
    """Independent check of the truth: volume-weighted top-2-box shares of a large simulation agree with it."""
    model = DemoModel(structure("2022"))
    sim = model.simulate(60000)
    truth = {(r["instrument"], r["agency"], r["measure"]): r["true_value"] for r in model.truth()}
    for k in ("sipas-2017", "counter-quick"):
        rows, values, items = sim.rows[k], sim.values[k], sim.items[k]
        sp, month = sim.sp[rows], sim.month[rows]
        n_cell = np.zeros(model.volumes.shape)
        np.add.at(n_cell, (sp, month), 1)
        w = model.volumes[sp, month] / n_cell[sp, month]
        q = model.questionnaires[k]
        element_values = []
        for el in q.index.elements:
            shares = []
            for code in el.items:
                v = values[:, items.index(code)]
                sat = np.isin(v, sorted(q.item(code).scale.satisfied))
                shares.append((w * sat).sum() / (w * (v > 0)).sum())
            estimate = float(np.mean(shares))
            element_values.append((el.code, estimate))
            assert estimate == pytest.approx(truth[(k, "ALL", el.code)], abs=0.012), (k, el.code)
        weights = dict(q.index.weights) if q.index.combine == "weighted" else {c: 1 / len(element_values)
                                                                               for c, _ in element_values}
        overall = sum(weights[c] * e for c, e in element_values)
        assert overall == pytest.approx(truth[(k, "ALL", "OVERALL")], abs=0.01)


def _mean_inter_item_correlation(values: np.ndarray) -> float:
    v = values.astype(float)
    v[v <= 0] = np.nan  # unanswered and "no opinion" are not levels
    c = pd.DataFrame(v).corr().to_numpy()
    return float(np.nanmean(c[np.triu_indices_from(c, 1)]))


def test_answers_of_one_respondent_move_together_as_in_real_surveys():
    """A respondent's answers share their satisfaction: the mean inter-item correlation of sipas-2017 is
    close to the 0.49 that Cronbach's α = 0.871 on a 7-item scale implies (docs/demo-model.md); items drawn
    independently (the old model) gave ≈ 0.02 and intervals far narrower than real surveys'."""
    sim = DemoModel(structure("2022")).simulate(20000)
    assert 0.44 < _mean_inter_item_correlation(sim.values["sipas-2017"]) < 0.54
    assert _mean_inter_item_correlation(sim.values["counter-quick"]) > 0.3
    # Spearman–Brown from the published α: r = α / (k − (k − 1)·α)
    alpha, k = 0.871, 7
    assert alpha / (k - (k - 1) * alpha) == pytest.approx(0.491, abs=0.001)


def test_papi_responses_come_from_commune_counters_with_true_dimension_scores():
    model = DemoModel(structure("2022"))
    sim = model.simulate(30000)
    rows = sim.rows["papi-services"]
    tiers = {model.service_points[s].tier for s in sim.sp[rows].tolist()}
    assert tiers == {"commune"} and len(rows) > 2000
    assert set(sim.channel[rows].tolist()) == {"qr"}
    truth = {(r["agency"], r["measure"]): r["true_value"] for r in model.truth() if r["instrument"] == "papi-services"}
    q = model.questionnaires["papi-services"]
    spec = q.index_spec()
    dims = [m for m in spec.measures if m.kind == "papi_dimension"]
    assert {m.code for m in dims} == {"D5", "D6", "D8"}
    for m in dims:  # a dimension sums its k sub-dimensions, each in its fixed band [1/k, 10/k]
        assert 1 < truth[("ALL", m.code)] < 10
    assert {a for a, _ in truth} >= {"ALL"} and len({a for a, _ in truth}) > 20  # every commune committee
    # volume-weighted ratios of the simulated answers recover the true PAPI total
    values, items = sim.values["papi-services"], sim.items["papi-services"]
    sp, month = sim.sp[rows], sim.month[rows]
    n_cell = np.zeros(model.volumes.shape)
    np.add.at(n_cell, (sp, month), 1)
    w = model.volumes[sp, month] / n_cell[sp, month]
    ratios = {}
    for j, code in enumerate(items):
        v = values[:, j]
        answered = v > 0
        ratios[(code, "sat")] = (w * np.isin(v, sorted(q.item(code).scale.satisfied))).sum() / (w * answered).sum()
        ratios[(code, "mean")] = (w * v * answered).sum() / (w * answered).sum()
    total = next(m for m in spec.measures if m.kind == "papi_total")
    estimate = total.const + sum(c * ratios[(key.item, key.kind)] for key, c in total.terms)
    assert estimate == pytest.approx(truth[("ALL", total.code)], abs=0.25)
    assert 3 < truth[("ALL", total.code)] < 30
