"""Interval formulas against published values (Newcombe, Stat Med 1998;17:857–872, Table I, 95%)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.intervals import clopper_pearson, korn_graubard, logit_interval, t_interval, wilson

# x, n, Wilson (method 3) and Clopper–Pearson (method 5) limits as printed, 4 decimals
NEWCOMBE = [
    (81, 263, (0.2553, 0.3662), (0.2527, 0.3676)),
    (15, 148, (0.0624, 0.1605), (0.0578, 0.1617)),
    (0, 20, (0.0, 0.1611), (0.0, 0.1684)),
    (1, 29, (0.0061, 0.1718), (0.0009, 0.1776)),
]


@pytest.mark.parametrize(("x", "n", "w", "cp"), NEWCOMBE)
def test_wilson_and_clopper_pearson_match_newcombe(x, n, w, cp):
    lo, hi = wilson(x, n)
    assert (round(float(lo), 4), round(float(hi), 4)) == w
    lo, hi = clopper_pearson(x, n)
    assert (round(float(lo), 4), round(float(hi), 4)) == cp


def test_edges_p0_p1_and_n1_are_exact_and_finite():
    lo, hi = wilson([0, 10, 1, 0], [10, 10, 1, 1])
    assert lo[0] == 0.0 and hi[1] == 1.0 and hi[2] == 1.0 and lo[3] == 0.0
    assert np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))
    lo, hi = clopper_pearson([0, 10, 1], [10, 10, 1])
    # CP at x = 0: upper = 1 − (α/2)^(1/n); at x = n: lower = (α/2)^(1/n)
    assert hi[0] == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-12)
    assert lo[1] == pytest.approx(0.025 ** (1 / 10), rel=1e-12)
    assert lo[2] == pytest.approx(0.025, rel=1e-12) and hi[2] == 1.0


def test_zero_n_is_nan_not_an_error():
    assert np.isnan(wilson(0, 0)[0]) and np.isnan(clopper_pearson(0, 0)[1])


def test_t_interval_uses_design_df_and_is_undefined_at_df_zero():
    lo, hi = t_interval([0.5, 0.5], [0.1, 0.1], [4, 0])
    assert hi[0] - 0.5 == pytest.approx(0.1 * 2.7764451051977987, rel=1e-12)  # t_{0.975, 4}
    assert np.isnan(lo[1]) and np.isnan(hi[1])


def test_logit_interval_is_inside_unit_interval_and_undefined_at_edges():
    lo, hi = logit_interval([0.97, 0.0], [0.03, 0.0], [30, 30])
    assert 0 < lo[0] < 0.97 < hi[0] < 1
    assert np.isnan(lo[1])


def test_korn_graubard_without_design_information_is_clopper_pearson():
    # p = 0 with V = 0: n_eff falls back to n → exactly the Clopper–Pearson interval of 0/n
    lo, hi, n_eff = korn_graubard(0.0, 0.0, 25, 10)
    cp = clopper_pearson(0, 25)
    assert n_eff == 25 and lo == cp[0] and hi == cp[1]
    lo, hi, _ = korn_graubard(0.3, 0.001, 50, 0)
    assert np.isnan(lo) and np.isnan(hi)
