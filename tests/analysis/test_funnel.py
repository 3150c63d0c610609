"""Funnel limits θ₀ ± z·√(θ₀(1−θ₀)/n) (Spiegelhalter 2005), checked by hand."""

import math

import numpy as np
import pytest

from analysis.funnel import funnel_flags, funnel_limits


def test_limits_by_hand():
    # θ₀ = 0.8, n = 100: sd = 0.04; z95 = 1.959964, z99.8 = 3.090232 (normal quantiles 0.975, 0.999).
    t = funnel_limits(0.8, [100])
    assert t.loc[0, "lower_95"] == pytest.approx(0.8 - 1.959963985 * 0.04, abs=1e-9)
    assert t.loc[0, "upper_95"] == pytest.approx(0.8 + 1.959963985 * 0.04, abs=1e-9)
    assert t.loc[0, "lower_99.8"] == pytest.approx(0.8 - 3.090232306 * 0.04, abs=1e-9)
    assert t.loc[0, "upper_99.8"] == pytest.approx(0.8 + 3.090232306 * 0.04, abs=1e-9)


def test_limits_narrow_with_n_and_are_clipped():
    t = funnel_limits(0.95, [5, 50, 5000])
    width = (t["upper_95"] - t["lower_95"]).to_numpy()
    assert width[0] > width[1] > width[2]
    assert t.loc[0, "upper_95"] == 1.0  # 0.95 + 1.96·√(0.0475/5) > 1
    assert t.loc[2, "upper_99.8"] == pytest.approx(0.95 + 3.090232306 * math.sqrt(0.95 * 0.05 / 5000))


def test_no_information_gives_missing_limits():
    t = funnel_limits(0.5, [0, np.nan, 10])
    assert t.loc[[0, 1], "lower_95"].isna().all()
    assert not math.isnan(t.loc[2, "lower_95"])


def test_flags_pick_the_widest_limit_crossed():
    # θ₀ = 0.5, n = 100: sd 0.05 → 95% band ±0.098, 99.8% band ±0.1545.
    f = funnel_flags([0.5, 0.62, 0.70, 0.38, 0.30, np.nan], [100] * 6, theta0=0.5)
    assert f["flag"].tolist() == ["within", "above_95", "above_99.8", "below_95", "below_99.8", "unknown"]


def test_invalid_inputs():
    with pytest.raises(ValueError, match="theta0"):
        funnel_limits(1.2, [10])
    with pytest.raises(ValueError, match="differ in length"):
        funnel_flags([0.1, 0.2], [10], theta0=0.5)
