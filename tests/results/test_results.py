"""The count-table path (SQL GROUP BY → analysis) equals the respondent-level path on the same stored responses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.estimate import estimate
from analysis.result import result_table
from analysis.totals import totals_from_responses
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.store import rebuild_tallies
from survey.results import (
    Selection,
    cluster_totals,
    compare_with_whole,
    distributions,
    indices,
    response_count,
)
from tests.results.factories import add_volumes, city_with_responses, respondent_frame

NUM = ["estimate", "se", "ci_low", "ci_high", "n", "n_eff", "df"]


@pytest.fixture
def data(db_session):
    return city_with_responses(db_session, per_point=40)


def _reference(frame: pd.DataFrame, spec, by: tuple[str, ...], weights: str | None = None,
               ci: str = "logit", design: str = "clusters") -> pd.DataFrame:
    """The respondent-level path.  "counters": service points are strata and every respondent is its own
    cluster — the same design the count tables express with moment_tally's Gram matrices.  By period, the
    strata (and clusters) are split by period: each period is estimated as in its own design."""
    period = next((c for c in ("year", "quarter", "month") if c in by), None)
    if period is not None:
        frame = frame.assign(**{c: frame[c] + " in " + frame[period] for c in ("stratum", "service_point")})
    if design == "counters":
        t = totals_from_responses(frame, spec, by, weights=weights, strata="service_point", unit_level=True)
    else:
        t = totals_from_responses(frame, spec, by, weights=weights, strata="stratum", cluster="service_point")
    return result_table(estimate(t, spec.measures, by), ci, n_min=30)


def _same(ours: pd.DataFrame, ref: pd.DataFrame) -> None:
    a = ours.sort_values(["domain", "measure"]).reset_index(drop=True)
    b = ref.sort_values(["domain", "measure"]).reset_index(drop=True)
    assert list(a["domain"]) == list(b["domain"])
    assert list(a["measure"]) == list(b["measure"])
    for col in NUM:
        np.testing.assert_allclose(a[col].astype(float), b[col].astype(float), rtol=1e-10, atol=1e-12,
                                   equal_nan=True, err_msg=col)
    assert list(a["method"]) == list(b["method"])
    assert list(a["suppressed"]) == list(b["suppressed"])


@pytest.mark.parametrize("design", ["counters", "clusters"])
@pytest.mark.parametrize("by", [(), ("agency",), ("month",), ("district",), ("channel",)])
def test_count_tables_equal_respondent_path(db_session, data, by, design):
    q, _ = questionnaire_for(db_session, data.qv_id)
    spec = q.index_spec()
    ours = indices(db_session, Selection.of(data.qv_id), domain=by, design=design).table
    _same(ours, _reference(respondent_frame(db_session, data.qv_id), spec, by, design=design))


@pytest.mark.parametrize("design", ["counters", "clusters"])
def test_volume_weights_equal_respondent_path_with_weights(db_session, data, design):
    add_volumes(db_session, data)
    q, _ = questionnaire_for(db_session, data.qv_id)
    spec = q.index_spec()
    frame = respondent_frame(db_session, data.qv_id)
    from survey.org.models import ServiceVolume

    vols = {(v.service_point_id, v.period): v.dossiers for v in db_session.query(ServiceVolume)}
    n_cell = frame.groupby(["sp_id", "period"])["rid"].transform("count")
    frame["w"] = [vols[(s, p)] / n for s, p, n in zip(frame["sp_id"], frame["period"], n_cell, strict=True)]
    ours = indices(db_session, Selection.of(data.qv_id), domain="agency", weights="volume", design=design).table
    _same(ours, _reference(frame, spec, ("agency",), weights="w", design=design))
    unweighted = indices(db_session, Selection.of(data.qv_id), domain="agency").table
    assert not np.allclose(ours["estimate"], unweighted["estimate"])


@pytest.mark.parametrize("design", ["counters", "clusters"])
def test_filter_is_a_domain_of_the_whole_design(db_session, data, design):
    """An agency filter gives the agency's cell of the city-wide design (zeroing, not subsetting)."""
    q, _ = questionnaire_for(db_session, data.qv_id)
    ag = data.city.agencies["UBND-BT"]
    ours = indices(db_session, Selection.of(data.qv_id, agency_ids=[ag.id]), design=design).table
    ref = _reference(respondent_frame(db_session, data.qv_id), q.index_spec(), ("agency",), design=design)
    ref = ref[ref["domain"] == "UBND-BT"].assign(by="all", domain="all")
    _same(ours, ref)


def test_scope_applies_in_sql(db_session, data):
    """Scope excludes every other agency's rows: an empty scope sees nothing, one agency sees only itself."""
    sel = Selection.of(data.qv_id, visible_agency_ids=set())
    assert indices(db_session, sel).table.empty
    assert response_count(db_session, sel) == 0
    stp = data.city.agencies["STP"]
    t = cluster_totals(db_session, Selection.of(data.qv_id, visible_agency_ids={stp.id}), domain="agency")
    assert set(t.cells["agency"]) == {"STP"}
    assert response_count(db_session, Selection.of(data.qv_id, visible_agency_ids={stp.id})) == 80


@pytest.mark.parametrize("design", ["counters", "clusters"])
def test_period_and_channel_filters(db_session, data, design):
    frame = respondent_frame(db_session, data.qv_id)
    months = sorted(frame["period"].unique())
    sel = Selection.of(data.qv_id, period_from=months[-1], period_to=months[-1], channels=["kiosk"])
    assert response_count(db_session, sel) == int(((frame["period"] == months[-1])
                                                   & (frame["channel"] == "kiosk")).sum())
    got = indices(db_session, sel, design=design).table.set_index("measure")
    ref = _reference(frame.assign(cell=np.where((frame["period"] == months[-1]) & (frame["channel"] == "kiosk"),
                                                "in", "out")),
                     questionnaire_for(db_session, data.qv_id)[0].index_spec(), ("cell",), design=design)
    ref = ref[ref["domain"] == "in"].set_index("measure")
    np.testing.assert_allclose(got["estimate"], ref.loc[got.index, "estimate"], rtol=1e-12)
    # the design is the period range, not the channel: the kiosk cell is a domain of the month's design
    month_only = frame[frame["period"] == months[-1]]
    ref2 = _reference(month_only.assign(cell=np.where(month_only["channel"] == "kiosk", "in", "out")),
                      questionnaire_for(db_session, data.qv_id)[0].index_spec(), ("cell",), design=design)
    ref2 = ref2[ref2["domain"] == "in"].set_index("measure")
    np.testing.assert_allclose(got["se"], ref2.loc[got.index, "se"], rtol=1e-10)


def test_rebuilt_tallies_give_the_same_figures(db_session, data):
    before = indices(db_session, Selection.of(data.qv_id), domain="agency").table
    rebuild_tallies(db_session)
    db_session.commit()
    from survey.results import cache

    cache.clear()
    after = indices(db_session, Selection.of(data.qv_id), domain="agency").table
    _same(after, before)


@pytest.mark.parametrize("design", ["counters", "clusters"])
def test_comparison_with_the_city_matches_a_direct_linearisation(db_session, data, design):
    """Difference agency − city for item C.ATT, SE from respondent-level scores computed here independently:
    clusters = service points within districts, or (counters) each respondent within its service point."""
    frame = respondent_frame(db_session, data.qv_id)
    cmp = compare_with_whole(db_session, Selection.of(data.qv_id), unit_column="agency", unit_value="UBND-BT",
                             design=design)
    row = cmp.table.set_index("measure").loc["C.ATT"]
    a = frame["C.ATT"].notna().to_numpy(float)
    s = (frame["C.ATT"] >= 2).to_numpy(float)  # sat3: levels 2, 3 satisfied
    d = (frame["agency"] == "UBND-BT").to_numpy(float)
    r_u, r_w = (s * d).sum() / (a * d).sum(), s.sum() / a.sum()
    z = d * (s - r_u * a) / (a * d).sum() - (s - r_w * a) / a.sum()
    h, c = ("stratum", "service_point") if design == "clusters" else ("service_point", "rid")
    zc = pd.DataFrame({"h": frame[h], "c": frame[c], "z": z}).groupby(["h", "c"])["z"].sum()
    var = 0.0
    for _, g in zc.groupby(level=0):
        nh = len(g)
        var += nh / (nh - 1) * ((g - g.mean()) ** 2).sum() if nh > 1 else (g ** 2).sum()
    df = frame[c].nunique() - frame[h].nunique()
    assert row["difference"] == pytest.approx(r_u - r_w, abs=1e-12)
    assert row["se"] == pytest.approx(np.sqrt(var), rel=1e-10)
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(r_u - r_w) / np.sqrt(var), df), rel=1e-8)
    city = indices(db_session, Selection.of(data.qv_id), design=design).table.set_index("measure")
    assert row["reference"] == pytest.approx(city.loc["C.ATT", "estimate"], abs=1e-12)


def test_distributions_count_every_level_and_option(db_session, data):
    frame = respondent_frame(db_session, data.qv_id)
    dist = distributions(db_session, Selection.of(data.qv_id), "en")
    att = dist.levels[dist.levels["item"] == "C.ATT"].set_index("value")
    for v in (1, 2, 3):
        assert att.loc[v, "count"] == int((frame["C.ATT"] == v).sum())
    assert att["share"].sum() == pytest.approx(1.0)
    assert dist.responses == len(frame)
    assert att.loc[3, "label"] == "Very satisfied"


def test_sipas_expectations_and_no_opinion(db_session):
    data = city_with_responses(db_session, per_point=12, instrument="sipas-2017", months=1)
    dist = distributions(db_session, Selection.of(data.qv_id), "vi")
    assert (dist.levels["value"] == 0).any()  # "no opinion" listed as a level
    assert dist.levels.loc[dist.levels["value"] == 0, "count"].sum() > 0
    exp = dist.expectations
    assert set(exp["item"]) >= {"E1.EXP", "E2.EXP"}
    assert exp["count"].sum() > 0
    assert (exp["share"] <= 1).all()


def test_a_new_response_is_counted_at_once(db_session, data):
    """Month chunks are cached by their response count: a new response re-reads its month, never stale."""
    import uuid

    from survey.database import utcnow
    from survey.respond.store import Submission, store_response
    from survey.results import cache

    sel = Selection.of(data.qv_id)
    before = indices(db_session, sel, domain="agency").table
    sp = data.city.service_points["STP-SP1"]
    store_response(db_session, Submission(service_point_id=sp.id, questionnaire_version_id=data.qv_id,
                                          answers={"C.ATT": 1, "C.HANDLING": 1}, channel="kiosk",
                                          client_id=str(uuid.uuid4()), submitted_at=utcnow()))
    after = indices(db_session, sel, domain="agency").table.set_index(["domain", "measure"])
    cache.clear()
    fresh = indices(db_session, sel, domain="agency").table.set_index(["domain", "measure"])
    assert after.loc[("STP", "C.ATT"), "n"] == before.set_index(["domain", "measure"]).loc[("STP", "C.ATT"), "n"] + 1
    np.testing.assert_allclose(after["estimate"], fresh["estimate"], rtol=0, atol=0)
    np.testing.assert_allclose(after["se"], fresh["se"], rtol=1e-12)


def test_weighted_figures_follow_a_volume_change(db_session, data):
    """Service volumes change without a new response: weighted results must not come from the cache."""
    from survey.org.models import ServiceVolume

    add_volumes(db_session, data)
    sel = Selection.of(data.qv_id)
    before = indices(db_session, sel, domain="agency", weights="volume").table
    vol = db_session.query(ServiceVolume).filter_by(service_point_id=data.city.service_points["STP-SP1"].id).first()
    vol.dossiers = vol.dossiers * 50
    db_session.commit()
    after = indices(db_session, sel, domain="agency", weights="volume").table
    stp = after["domain"] == "STP"
    assert not np.allclose(before.loc[stp, "estimate"], after.loc[stp, "estimate"])


def test_cached_figures_outlive_a_rolled_back_request(app, db_session, data):
    """Cached figures keep the questionnaire's identity and titles, not its ORM row: a request that computed
    them and then failed (its 500 page rolls the session back, which expires every row it holds) left the
    cached result pointing at an expired, detached row, and every later agency page of the process failed with
    DetachedInstanceError until the data changed."""
    from survey.extensions import db
    from survey.results.indices import indices

    sel = Selection.of(data.qv_id)
    first = indices(db.session, sel, domain="agency")
    db.session.rollback()  # what survey/web.py's error page does after a failure mid-request
    db.session.remove()  # the end of that request
    again = indices(db.session, sel, domain="agency")
    assert again is first  # the cached result, as the next page of the process gets it
    note = again.method_note("vi")
    assert note["version"] == again.instrument.record.version and note["title"]
