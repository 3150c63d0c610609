"""Rank intervals, top-k and quartile probabilities on replicate tables worked out by hand."""

import numpy as np
import pytest

from analysis.ranks import rank_units, replicate_ranks

UNITS = ["A", "B", "C", "D"]
EST = [0.90, 0.80, 0.70, 0.60]
# 4 replicates.  Ranks per replicate (1 = highest):
#   r1: A1 B2 C3 D4   r2: B1 A2 C3 D4   r3: A1 C2 B3 D4   r4: A1 B2 D3 C4
REPS = np.array([
    [0.91, 0.81, 0.71, 0.61],
    [0.85, 0.88, 0.70, 0.55],
    [0.90, 0.70, 0.75, 0.60],
    [0.95, 0.80, 0.60, 0.65],
])


def test_ranks_and_probabilities_by_hand():
    t = rank_units(UNITS, EST, REPS, top_k=1).set_index("unit")
    assert t["rank"].tolist() == [1, 2, 3, 4]
    assert t.loc["A", "p_top_1"] == 0.75 and t.loc["B", "p_top_1"] == 0.25 and t.loc["C", "p_top_1"] == 0
    # B's replicate ranks 2, 1, 3, 2 → 2.5% and 97.5% observed quantiles 1 and 3.
    assert (t.loc["B", "rank_low"], t.loc["B", "rank_high"]) == (1, 3)
    assert (t.loc["D", "rank_low"], t.loc["D", "rank_high"]) == (3, 4)
    # With 4 units the quartile group equals the rank in every replicate.
    assert t.loc["A", "p_q1"] == 0.75 and t.loc["A", "p_q2"] == 0.25
    assert t.loc["C", ["p_q2", "p_q3", "p_q4"]].tolist() == [0.25, 0.5, 0.25]
    assert t["quartile"].tolist() == [1, 2, 3, 4]
    assert np.allclose(t[["p_q1", "p_q2", "p_q3", "p_q4"]].sum(axis=1), 1)


def test_default_top_k_is_a_quarter_of_ranked_units():
    t = rank_units(UNITS, EST, REPS)
    assert "p_top_1" in t.columns
    assert t["p_top_1"].sum() == pytest.approx(1.0)


def test_suppressed_units_are_listed_but_never_ranked_and_do_not_shift_others():
    units = [*UNITS, "tiny"]
    reps = np.column_stack([REPS, np.full(4, 0.99)])  # would be first everywhere if ranked
    t = rank_units(units, [*EST, 0.99], reps, suppressed=[False] * 4 + [True], top_k=1)
    alone = rank_units(UNITS, EST, REPS, top_k=1)
    assert t["unit"].iloc[-1] == "tiny" and t["rank"].isna().iloc[-1] and t["suppressed"].iloc[-1]
    ranked = t.iloc[:4].reset_index(drop=True)
    assert ranked[["unit", "rank", "rank_low", "rank_high", "p_top_1"]].equals(
        alone[["unit", "rank", "rank_low", "rank_high", "p_top_1"]])


def test_suppressed_unit_may_lack_an_estimate_but_a_ranked_one_may_not():
    reps = np.array([[0.5, np.nan], [0.6, np.nan]])
    t = rank_units(["A", "B"], [0.5, np.nan], reps, suppressed=[False, True])
    assert t["rank"].tolist()[0] == 1
    with pytest.raises(ValueError, match="suppress them first"):
        rank_units(["A", "B"], [0.5, np.nan], np.array([[0.5, 0.1], [0.6, 0.2]]))


def test_undefined_replicate_keeps_the_point_estimate_and_is_reported():
    reps = REPS.copy()
    reps[1, 3] = np.nan  # D not estimable in replicate 2
    t = rank_units(UNITS, EST, reps).set_index("unit")
    assert t.loc["D", "defined"] == 0.75 and t.loc["A", "defined"] == 1.0
    assert t.loc["D", "rank_high"] == 4


def test_ties_share_the_best_rank():
    assert replicate_ranks(np.array([[0.5, 0.7, 0.7, 0.1]])).tolist() == [[3, 1, 1, 4]]


def test_shape_errors():
    with pytest.raises(ValueError, match="shape"):
        rank_units(UNITS, EST, REPS[:, :3])
    with pytest.raises(ValueError, match="at least 2"):
        rank_units(UNITS, EST, REPS[:1])
