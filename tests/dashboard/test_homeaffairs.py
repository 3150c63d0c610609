"""Home Affairs pages: the figures shown equal the analysis package's results for the same filters, ranks
equal analysis.ranks for the same seed, suppressed units are listed but never ranked, drill-down and
exports carry the same numbers."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape
from openpyxl import load_workbook

from analysis.compare import screen_changes
from analysis.multiple import holm
from analysis.ranks import rank_replicates, rank_units
from survey.dashboard.charts import pct
from survey.questionnaire_versions.service import questionnaire_for
from tests.dashboard.hakit import latest_quarter, login, read_csv, reference, use_language
from tests.results.factories import city_with_responses, fix_clock, reference_totals, respondent_frame

B, SEED = 60, 4242


@pytest.fixture
def data(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=B, HAILONG_BOOTSTRAP_SEED=SEED)
    return city_with_responses(db_session, per_point=45)


@pytest.fixture
def two_quarters(app):
    """Requested before `data`: the factory's months then span two quarters whatever today's date is."""
    fix_clock(app)


@pytest.fixture
def frame(db_session, data):
    return respondent_frame(db_session, data.qv_id)


@pytest.fixture
def spec(db_session, data):
    q, _ = questionnaire_for(db_session, data.qv_id)
    return q.index_spec()


def _login_en(client) -> None:
    """Log in as Home Affairs and read the pages in English (CSV headers and notes are then msgids)."""
    login(client, "noivu")
    use_language(client, "en")


def _by_unit(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {r[next(iter(r))]: r for r in rows}


def _close(shown: str, expected: float) -> None:
    if math.isnan(expected):  # e.g. no interval when the unit lies in one service point (df = 0)
        assert shown == "", shown
        return
    assert shown != "" and math.isclose(float(shown), expected, rel_tol=1e-9, abs_tol=1e-12), (shown, expected)


def test_agency_comparison_equals_analysis(client, data, frame, spec):
    _login_en(client)
    quarter = latest_quarter(frame)
    _totals, ref = reference(frame, spec, ("agency",), quarter)
    ref = ref[ref["measure"] == "OVERALL"].set_index("domain")
    names = {a.code: a.name_en for a in data.city.agencies.values()}

    page = client.get("/homeaffairs/?level=agency")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    rows = _by_unit(read_csv(client.get("/homeaffairs/export.csv?level=agency&table=estimates")))
    assert set(rows) == {names[c] for c in ref.index}
    for code, rec in ref.iterrows():
        row = rows[names[code]]
        if rec["suppressed"]:
            assert row["Estimate"] == "" and f"not enough responses (n = {int(rec['n'])})" in row["Note"]
            assert f"not enough responses (n = {int(rec['n'])})" in html
            continue
        for col, key in (("Estimate", "estimate"), ("95% CI low", "ci_low"), ("95% CI high", "ci_high")):
            _close(row[col], float(rec[key]))
        assert int(row["n"]) == int(rec["n"])
        assert pct(float(rec["estimate"]), "en") in html  # the page shows the same figure, formatted


def _n_min_suppressing_the_smallest(frame, spec, quarter: str) -> int:
    """An n_min just above the smallest agency's n (the one-service-point agency), below all others."""
    _t, ref = reference(frame, spec, ("agency",), quarter)
    ns = sorted(ref.loc[ref["measure"] == "OVERALL", "n"].astype(int))
    assert ns[0] < ns[1]
    return ns[0] + 1


def _primary_suppression_only(monkeypatch) -> None:
    """These tests compare ranks and changes with `analysis` under its own (primary) suppression: with four
    agencies, the agency hidden to protect the small one (survey.results.protection; tests/dashboard/
    test_disclosure.py) would leave too few to rank."""
    monkeypatch.setattr("survey.results.protection.ENABLED", False)


def test_ranks_equal_analysis_ranks_for_the_same_seed(app, client, data, frame, spec, monkeypatch):
    _primary_suppression_only(monkeypatch)
    _login_en(client)
    quarter = latest_quarter(frame)
    n_min = app.config["HAILONG_N_MIN"] = _n_min_suppressing_the_smallest(frame, spec, quarter)
    totals, ref = reference(frame, spec, ("agency",), quarter, n_min=n_min)
    measure = spec.measure("OVERALL")
    ref = ref[ref["measure"] == "OVERALL"].reset_index(drop=True)
    labels = totals.collapse(("agency",)).cells["agency"].astype(str)
    reps, _method = rank_replicates(totals, measure, ("agency",), replicates=B, seed=SEED,
                                    domains=(labels != "").to_numpy())
    expected = rank_units(list(ref["domain"]), np.where(ref["suppressed"], np.nan, ref["estimate"]), reps,
                          suppressed=ref["suppressed"].to_numpy())
    k = int(next(c for c in expected.columns if c.startswith("p_top_")).removeprefix("p_top_"))
    names = {a.code: a.name_en for a in data.city.agencies.values()}

    rows = _by_unit(read_csv(client.get("/homeaffairs/export.csv?level=agency&table=ranks")))
    assert any(rec["suppressed"] for rec in expected.to_dict("records")), "the data must include a suppressed unit"
    for rec in expected.to_dict("records"):
        row = rows[names[rec["unit"]]]
        if rec["suppressed"]:
            assert row["Rank"] == row["Rank interval low"] == row["Rank interval high"] == ""
            continue
        assert (int(row["Rank"]), int(row["Rank interval low"]), int(row["Rank interval high"])) == (
            rec["rank"], rec["rank_low"], rec["rank_high"])
        _close(row[f"P(top {k})"], rec[f"p_top_{k}"])
        _close(row["P(top quarter)"], rec["p_q1"])
    # a chosen k: P(top 2) as analysis.ranks computes it
    expected2 = rank_units(list(ref["domain"]), np.where(ref["suppressed"], np.nan, ref["estimate"]), reps,
                           suppressed=ref["suppressed"].to_numpy(), top_k=2)
    rows2 = _by_unit(read_csv(client.get("/homeaffairs/export.csv?level=agency&table=ranks&top_k=2")))
    for rec in expected2.to_dict("records"):
        if not rec["suppressed"]:
            _close(rows2[names[rec["unit"]]]["P(top 2)"], rec["p_top_2"])
    # the same request twice gives the same ranks (seeded, cached)
    again = _by_unit(read_csv(client.get("/homeaffairs/export.csv?level=agency&table=ranks")))
    assert again == rows


def test_suppressed_units_are_listed_but_never_ranked(app, client, data, frame, spec, monkeypatch):
    _primary_suppression_only(monkeypatch)
    app.config["HAILONG_N_MIN"] = _n_min_suppressing_the_smallest(frame, spec, latest_quarter(frame))
    _login_en(client)
    rows = read_csv(client.get("/homeaffairs/export.csv?level=agency&table=ranks"))
    ests = _by_unit(read_csv(client.get("/homeaffairs/export.csv?level=agency&table=estimates")))
    ranked = [r for r in rows if r["Rank"]]
    unranked = [r for r in rows if not r["Rank"]]
    assert unranked and ranked
    for r in unranked:
        assert ests[r[next(iter(r))]]["Estimate"] == ""
    assert sorted(int(r["Rank"]) for r in ranked)[0] == 1
    assert max(int(r["Rank interval high"]) for r in ranked) <= len(ranked)
    html = client.get("/homeaffairs/?level=agency").get_data(as_text=True)
    assert html.count("not enough responses (n = ") >= len(unranked)


@pytest.mark.usefixtures("two_quarters")  # before `data`
def test_change_since_previous_period_is_analysis_compare_with_holm(client, data, frame, spec, monkeypatch):
    _primary_suppression_only(monkeypatch)
    _login_en(client)
    quarters = sorted(set(frame["quarter"]), key=lambda q: (int(q[:4]), int(q[-1])))
    assert len(quarters) == 2  # the injected clock puts the factory's months in two quarters
    before, after = quarters[-2], quarters[-1]
    both = frame[frame["quarter"].isin([before, after])].reset_index(drop=True)
    # strata = service point × quarter: each quarter's variance is its own design's, no covariance between
    # them (docs/methodology-design.md, "One period, one interval")
    both["service_point"] = both["service_point"] + " in " + both["quarter"]
    totals = reference_totals(both, spec, ("agency", "quarter"))
    ref = screen_changes(totals, [spec.measure("OVERALL")], "agency", "quarter", before, after)
    ref["p_holm"] = holm(ref["p_value"].where(~ref["suppressed"]).to_numpy(dtype=float))
    names = {a.code: a.name_en for a in data.city.agencies.values()}
    rows = _by_unit(read_csv(client.get(f"/homeaffairs/export.csv?level=agency&table=change&period={after}")))
    tested = 0
    for rec in ref.to_dict("records"):
        row = rows[names[rec["domain"]]]
        if rec["suppressed"]:
            assert row["Change (difference in proportion)"] == ""
            continue
        tested += 1
        _close(row["Change (difference in proportion)"], rec["change"])
        _close(row["95% CI low (difference in proportion)"], rec["ci_low"])
        _close(row["p (Holm)"], rec["p_holm"])
    assert tested >= 1


def test_district_drill_down_to_agencies_and_service_points(client, data, frame, spec):
    _login_en(client)
    nk = data.city.units["NK"]
    html = client.get("/homeaffairs/?level=district").get_data(as_text=True)
    assert f"/homeaffairs/unit/{nk.id}" in html
    unit_page = client.get(f"/homeaffairs/unit/{nk.id}")
    assert unit_page.status_code == 200
    text = unit_page.get_data(as_text=True)
    assert escape(data.city.agencies["UBND-NK"].name_en) in text
    assert escape(data.city.agencies["UBND-BT"].name_en) not in text
    ag = data.city.agencies["UBND-NK"]
    assert f"/homeaffairs/agency/{ag.id}" in text
    sp_rows = read_csv(client.get(f"/homeaffairs/export.csv?view=agency&agency_id={ag.id}&table=estimates"))
    assert {r[next(iter(r))] for r in sp_rows} == {sp.name_en for sp in data.city.service_points.values()
                                                   if sp.agency_id == ag.id}
    # district figures equal analysis by district
    quarter = latest_quarter(frame)
    _t, ref = reference(frame, spec, ("district",), quarter)
    ref = ref[(ref["measure"] == "OVERALL") & (ref["domain"] != "")].set_index("domain")
    rows = _by_unit(read_csv(client.get("/homeaffairs/export.csv?level=district&table=estimates")))
    for code, rec in ref.iterrows():
        row = rows[data.city.units[code].name_en]
        if not rec["suppressed"]:
            _close(row["Estimate"], float(rec["estimate"]))


def test_page_shows_charts_with_their_alternatives(client, data):
    _login_en(client)
    html = client.get("/homeaffairs/?level=agency").get_data(as_text=True)
    for chart in ("ha-forest", "ha-funnel", "ha-ranks"):
        assert f'id="{chart}"' in html and f'id="{chart}-t"' in html and f'id="{chart}-d"' in html
        assert f'id="{chart}-data"' in html
    assert "<script" not in html.split("<main", 1)[1]


def test_xlsx_export_holds_every_table_shown(client, data):
    _login_en(client)
    resp = client.get("/homeaffairs/export.xlsx?level=agency")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(resp.data))
    assert {"Estimates", "Ranks", "Funnel plot"} <= set(wb.sheetnames)
    csv_rows = _by_unit(read_csv(client.get("/homeaffairs/export.csv?level=agency&table=estimates")))
    ws = wb["Estimates"]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2, values_only=True):
        rec = dict(zip(header, row, strict=True))
        shown = csv_rows[rec[header[0]]]["Estimate"]
        if rec["Estimate"] is None:
            assert shown == ""
        else:
            _close(shown, rec["Estimate"])


def test_filters_measure_and_channel_change_the_figures(client, data, frame, spec):
    _login_en(client)
    quarter = latest_quarter(frame)
    _t, ref = reference(frame, spec, ("agency",), quarter)
    ref = ref[(ref["measure"] == "E1") & ~ref["suppressed"]].set_index("domain")
    names = {a.code: a.name_en for a in data.city.agencies.values()}
    rows = _by_unit(read_csv(client.get("/homeaffairs/export.csv?level=agency&table=estimates&measure=E1")))
    for code, rec in ref.iterrows():
        _close(rows[names[code]]["Estimate"], float(rec["estimate"]))
    kiosk = frame[frame["channel"] == "kiosk"].reset_index(drop=True)
    _t, kref = reference(kiosk, spec, ("agency",), quarter, n_min=1)
    kiosk_rows = read_csv(client.get("/homeaffairs/export.csv?level=agency&table=estimates&channel=kiosk"))
    assert sum(int(r["n"]) for r in kiosk_rows) <= sum(int(r["n"]) for r in rows.values())
    assert len(kref) > 0


@pytest.mark.usefixtures("two_quarters")  # before `data`
def test_trend_of_the_selection_equals_analysis_by_quarter(client, data, frame, spec):
    _login_en(client)
    quarters = sorted(set(frame["quarter"]), key=lambda q: (int(q[:4]), int(q[-1])))
    assert len(quarters) == 2  # the injected clock puts the factory's months in two quarters
    listed = frame[frame["district"] != ""].reset_index(drop=True)  # the districts listed, not city departments
    # each quarter in its own design, as the headline of that quarter (docs/methodology-design.md, "One period,
    # one interval"), not as a domain of one design over both quarters
    ref = pd.concat([reference(listed, spec, (), q)[1].assign(domain=q) for q in quarters])
    ref = ref[ref["measure"] == "OVERALL"].set_index("domain")
    rows = {r["Period"]: r for r in read_csv(client.get(f"/homeaffairs/export.csv?table=trend&period={quarters[-1]}"))}
    named = {q: f"Quarter {('I', 'II', 'III', 'IV')[int(q[-1]) - 1]}/{q[:4]}" for q in quarters}  # as shown
    assert set(named.values()) <= set(rows)
    for q, name in named.items():
        _close(rows[name]["Estimate"], float(ref.loc[q, "estimate"]))
        _close(rows[name]["95% CI low"], float(ref.loc[q, "ci_low"]))
        _close(rows[name]["95% CI high"], float(ref.loc[q, "ci_high"]))
        assert int(rows[name]["n"]) == int(ref.loc[q, "n"])
    html = client.get(f"/homeaffairs/?period={quarters[-1]}").get_data(as_text=True)
    assert 'id="ha-trend"' in html and 'id="ha-trend-data"' in html
