"""Gram matrices pre-summed per domain cell (`UnitMoments.cell_gram`, Ĝ_d = Σ_h c_h·G_hd) give the same
estimates, intervals, contrasts and ranks as one Gram matrix per (stratum, cell) row: the web app's
national pages pass this form so that no P × P matrix per service point is built per request.  The R
references (test_unit_reference.py, param "cell sums") pin both against `survey`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import contrast_estimates, estimate, totals_from_responses
from analysis.compare import compare_domains, compare_to_whole, screen_changes
from analysis.ranks import rank_table
from analysis.result import result_table
from analysis.totals import UnitMoments, cell_gram_sums, stratum_scale
from tests.analysis.core_fixtures import make_data, make_spec

RTOL = 1e-12


def _data(seed: int, lonely: bool) -> pd.DataFrame:
    df = make_data(n=1800, seed=seed, n_strata=6, clusters_per_stratum=7)
    df["month"] = np.random.default_rng(seed).choice(["2026-01", "2026-02", "2026-03"], len(df))
    if lonely:  # strata of one respondent ("adjust": unscaled, not centred)
        df.loc[df.index[:3], "service_point"] = ["SOLO1", "SOLO2", "SOLO3"]
    return df


@pytest.fixture(scope="module", params=[(3, False), (11, True), (29, True)],
                ids=["seed3", "seed11-lonely", "seed29-lonely"])
def pair(request):
    seed, lonely = request.param
    spec = make_spec(n_min=1)
    rows = totals_from_responses(_data(seed, lonely), spec, ("agency", "channel", "month"), weights="weight",
                                 strata="service_point", unit_level=True)
    cells = rows.with_cell_moments()
    assert rows.unit is not None and rows.unit.gram is not None
    assert cells.unit is not None and cells.unit.gram is None and cells.unit.cell_gram is not None
    assert cells.unit.cell_gram.shape == (len(rows.cells), rows.unit.width, rows.unit.width)
    return spec, rows, cells


def _close(a, b) -> None:
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize("by", [(), ("agency",), ("month",), ("agency", "channel"), ("agency", "channel", "month")])
def test_estimates_and_variances_equal_the_per_row_grams(pair, by):
    spec, rows, cells = pair
    a, b = estimate(rows, spec.measures, by), estimate(cells, spec.measures, by)
    assert np.isfinite(a.variance).any() and (a.variance > 0).any()
    np.testing.assert_array_equal(a.estimate, b.estimate)
    _close(a.variance, b.variance)
    for name in ("n", "n_clusters", "df", "answered"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    ta = result_table(a, "logit", n_min=1)
    tb = result_table(b, "logit", n_min=1)
    pd.testing.assert_frame_equal(ta, tb, rtol=RTOL, atol=0, check_exact=False)


def test_contrasts_between_and_against_the_whole_equal(pair):
    spec, rows, cells = pair
    for t in (rows, cells):
        assert t.unit is not None
    n_cells = len(rows.collapse(("agency", "month")).cells)
    rng = np.random.default_rng(1)
    domains = rng.random((5, n_cells)) < 0.4
    domains[0] = True  # the whole
    coef = rng.normal(size=(4, 5))
    a = contrast_estimates(rows, spec.measures, ("agency", "month"), domains, coef)
    b = contrast_estimates(cells, spec.measures, ("agency", "month"), domains, coef)
    assert (a.variance > 0).any()
    _close(a.estimate, b.estimate)
    _close(a.variance, b.variance)
    np.testing.assert_array_equal(a.df, b.df)
    for f in (lambda t: compare_domains(t, spec.measures, ("agency",), "A", "C", n_min=0),
              lambda t: compare_to_whole(t, spec.measures, ("agency",), n_min=0),
              lambda t: screen_changes(t, spec.measures, "agency", "month", "2026-01", "2026-03", n_min=0)):
        pd.testing.assert_frame_equal(f(rows), f(cells), rtol=RTOL, atol=1e-15, check_exact=False)


def test_rank_tables_equal(pair):
    spec, rows, cells = pair
    measure = next(m for m in spec.measures if m.code == "overall")
    a = rank_table(rows, measure, ("agency",), replicates=200, seed=4)
    b = rank_table(cells, measure, ("agency",), replicates=200, seed=4)
    pd.testing.assert_frame_equal(a, b, rtol=RTOL, atol=1e-15, check_exact=False)


def test_cell_sums_weight_each_stratum_by_its_scale():
    # two strata (n_h = 3 and a lonely one) in one cell, one stratum in another: Ĝ = Σ c_h·G
    tri = np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0], [5.0, 0.0, 7.0]])  # P = 2
    got = cell_gram_sums(tri, np.array([0, 1, 2, -1]), np.array([3, 1, 4, 9]), np.array([0, 0, 1, 1]), 2)
    assert stratum_scale(np.array([0, 1, 2, 3])).tolist() == [1.0, 1.0, 2.0, 1.5]
    np.testing.assert_array_equal(got[0], 1.5 * np.array([[1, 2], [2, 3]]) + np.array([[10, 20], [20, 30]]))
    np.testing.assert_array_equal(got[1], 4 / 3 * np.array([[5, 0], [0, 7]]))
    with pytest.raises(ValueError, match="P\\(P\\+1\\)/2"):
        cell_gram_sums(np.zeros((1, 4)), np.array([0]), np.array([2]), np.array([0]), 1)


def test_moments_need_exactly_one_form():
    with pytest.raises(ValueError, match="exactly one"):
        UnitMoments(np.array([2]), None)
    with pytest.raises(ValueError, match="exactly one"):
        UnitMoments(np.array([2]), np.zeros((1, 3, 3)), cell_gram=np.zeros((1, 3, 3)))


def test_several_accumulators_over_the_same_rows_equal_one_call_each():
    """add_cell_grams_many converts each chunk once for several needs; each accumulator gets exactly (bit for
    bit) what its own add_cell_grams call gives, over several chunks and with lonely strata (n_h ≤ 1)."""
    from analysis.totals import add_cell_grams, add_cell_grams_many

    rng = np.random.default_rng(4)
    tri = rng.integers(0, 500, size=(50, 10))  # P = 4: 10 packed entries
    targets = [(np.zeros((3, 10)), rng.integers(0, 6, 50), rng.integers(0, 3, 50)),
               (np.zeros((1, 10)), rng.integers(0, 6, 50), np.zeros(50, dtype=np.int64))]
    add_cell_grams_many(targets, tri, chunk=7)
    for acc, n_h, cell in targets:
        alone = np.zeros_like(acc)
        add_cell_grams(alone, tri, n_h, cell, chunk=7)
        assert np.array_equal(acc, alone) and acc.any()
        expect = np.zeros_like(acc)
        np.add.at(expect, cell, stratum_scale(n_h)[:, None] * tri)
        np.testing.assert_allclose(acc, expect, rtol=1e-13)
