"""A live request's totals finished again from the previous request's (survey/results/month_pass.py,
`_finish_again`): only the changed service points' rows replaced.  On random new responses (random service
points, channels, items answered and values), round after round, every totals equals a build from empty caches:
structure, item statistics, n_h and respondents per row exactly, Ĝ per cell to 1e-12 (the per-point sums are
summed in another order by a fresh build) — and the shortcut is taken, not only the fallback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from survey.results import Selection, cache, month_pass
from survey.results import totals as totals_module
from tests.results.factories import city_with_responses
from tests.results.test_month_pass import closed_months_entries, restore_closed_months

DOMAINS = [(), ("agency",), ("district",)]


@pytest.fixture
def data(request, db_session):
    cache.clear()
    request.addfinalizer(cache.clear)
    return city_with_responses(db_session, per_point=20, months=3, comments=False)


def _all_totals(app, session, sel):
    """The totals of a page's three domains, planned together as a page plans them."""
    with app.test_request_context("/"):
        month_pass.plan([(sel, dom) for dom in DOMAINS])
        return [totals_module.cluster_totals(session, sel, domain=dom, design="counters") for dom in DOMAINS]


def _assert_same(a, b):
    assert a.items == b.items and a.domain_columns == b.domain_columns
    assert list(a.strata) == list(b.strata)
    pd.testing.assert_frame_equal(a.clusters, b.clusters)
    pd.testing.assert_frame_equal(a.cells, b.cells)
    for name in ("cluster_stratum", "row_cluster", "row_cell", "stats"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.weighted, a.clustered) == (b.weighted, b.clustered)
    np.testing.assert_array_equal(a.unit.n_h, b.unit.n_h)
    np.testing.assert_array_equal(a.unit.row_n, b.unit.row_n)
    np.testing.assert_allclose(a.unit.cell_gram, b.unit.cell_gram, rtol=1e-12, atol=1e-9)


def _random_response(session, data, rng, sp, when, channel=None):
    """One response at `sp`: required items and about 70% of the others answered, random levels; a random channel
    unless given (only paper may be dated back past the kiosks' queue age)."""
    from survey.questionnaire_versions.service import questionnaire_for
    from survey.respond.store import Submission, store_response

    q, _ = questionnaire_for(session, data.qv_id)
    scale = [item for item in q.items() if item.type == "scale"]
    answered = [item for item in scale if item.required or rng.random() < 0.7]
    answers = {item.code: int(rng.choice(list(item.values))) for item in answered}
    channel = channel or str(rng.choice(["kiosk", "qr", "web", "paper"]))
    store_response(session, Submission(service_point_id=sp.id, questionnaire_version_id=data.qv_id,
                                       answers=answers, channel=channel, submitted_at=when))


@pytest.mark.parametrize("seed", [1, 2])
def test_live_totals_finished_again_equal_a_fresh_build(app, db_session, data, monkeypatch, seed):
    rng = np.random.default_rng(seed)
    sel = Selection.of(data.qv_id)
    cache.clear()
    _all_totals(app, db_session, sel)
    points = sorted(data.city.service_points.values(), key=lambda p: p.code)
    taken: list[bool] = []
    real = month_pass._finish_again

    def spy(*args, **kw):
        out = real(*args, **kw)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(month_pass, "_finish_again", spy)
    for _round in range(4):
        for k in rng.choice(len(points), size=int(rng.integers(1, 4)), replace=False).tolist():
            for _ in range(int(rng.integers(1, 3))):
                _random_response(db_session, data, rng, points[k], data.months[0])
        live = _all_totals(app, db_session, sel)
        kept = closed_months_entries()
        cache.clear()
        fresh = _all_totals(app, db_session, sel)
        for a, b in zip(live, fresh, strict=True):
            _assert_same(a, b)
        restore_closed_months(kept)  # the next round continues from the live state
    assert any(taken), "the changed rows were never replaced: every live totals was built from scratch"
