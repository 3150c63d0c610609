"""Cronbach's alpha on a small example computed by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.reliability import cronbach_alpha, element_alphas
from questionnaires.index_spec import IndexSpec, ItemSpec, Measure, RatioKey

# Hand calculation: item variances 5/3, 4.75/3, 5/3; totals 5, 8, 10, 14 → variance 42.75/3;
# α = 3/2·(1 − 14.75/42.75) = 56/57. Correlations r12 = r23 = 4.5/√23.75, r13 = 1.
HAND = pd.DataFrame({"q1": [1, 2, 3, 4], "q2": [2, 3, 3, 5], "q3": [2, 3, 4, 5]})
R12 = 4.5 / math.sqrt(23.75)
R_BAR = (2 * R12 + 1) / 3


def test_alpha_by_hand():
    r = cronbach_alpha(HAND)
    assert r.alpha == pytest.approx(56 / 57, rel=1e-12)
    assert r.standardized == pytest.approx(3 * R_BAR / (1 + 2 * R_BAR), rel=1e-12)
    assert (r.n, r.k, r.note) == (4, 3, "")


def test_incomplete_and_no_opinion_rows_are_left_out():
    extra = pd.DataFrame({"q1": [np.nan, 5, 0], "q2": [1, np.nan, 3], "q3": [1, 1, 2]})
    r = cronbach_alpha(pd.concat([HAND, extra], ignore_index=True))
    assert r.n == 4
    assert r.alpha == pytest.approx(56 / 57, rel=1e-12)


def test_opposed_items_leave_no_summed_variance():
    # Two items with correlation −1: the summed score is constant, so alpha is undefined.
    r = cronbach_alpha(pd.DataFrame({"a": [1, 2, 3, 4], "b": [4, 3, 2, 1]}))
    assert math.isnan(r.alpha) and "no variance" in r.note


def test_degenerate_inputs_are_explained():
    with pytest.raises(ValueError, match="at least 2 items"):
        cronbach_alpha(HAND[["q1"]])
    r = cronbach_alpha(HAND.iloc[:1])
    assert math.isnan(r.alpha) and "1 complete case" in r.note


def _spec() -> IndexSpec:
    items = {c: ItemSpec(c, (1, 2, 3, 4, 5), frozenset({4, 5})) for c in ("q1", "q2", "q3", "q4")}
    e1 = Measure("E1", "element", tuple((RatioKey(c), 1 / 3) for c in ("q1", "q2", "q3")))
    e2 = Measure("E2", "element", ((RatioKey("q4"), 1.0),))
    item = Measure("q1", "item", ((RatioKey("q1"), 1.0),))
    return IndexSpec("t", 1, items, (item, e1, e2))


def test_element_alphas_per_element():
    data = HAND.assign(q4=[1, 2, 3, np.nan])
    t = element_alphas(data, _spec())
    assert t["element"].tolist() == ["E1", "E2"]
    assert t.loc[0, "alpha"] == pytest.approx(56 / 57, rel=1e-12)
    assert t.loc[1, "note"] == "single item" and t.loc[1, "n"] == 3


def test_element_alphas_missing_column():
    with pytest.raises(KeyError, match="q3"):
        element_alphas(HAND.drop(columns="q3"), _spec())
