"""Rank intervals, top-k and quartile probabilities on replicate tables worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from analysis import totals_from_responses
from analysis.ranks import rank_table, rank_units, replicate_ranks
from questionnaires.index_spec import IndexSpec, ItemSpec, Measure, RatioKey

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


def _separated_totals():
    """Five agencies with true satisfaction 0.9 … 0.5 across shared service points, plus a tiny one."""
    rng = np.random.default_rng(5)
    rows = []
    truth = {"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.6, "E": 0.5}
    for sp in range(30):
        for agency, p in truth.items():
            for _ in range(20):
                rows.append((f"S{sp}", f"H{sp % 3}", agency, 5.0 if rng.random() < p else 2.0))
    rows += [("S0", "H0", "tiny", 5.0)] * 5
    data = pd.DataFrame(rows, columns=["service_point", "district", "agency", "Q"])
    spec = IndexSpec("t", 1, {"Q": ItemSpec("Q", (1, 2, 3, 4, 5), frozenset({4, 5}))},
                     (Measure("Q", "item", ((RatioKey("Q"), 1.0),)),))
    return totals_from_responses(data, spec, ("agency",), strata="district", cluster="service_point"), spec


def test_rank_table_on_totals_separates_clear_differences_and_skips_small_units():
    totals, spec = _separated_totals()
    t = rank_table(totals, spec.measures[0], ("agency",), replicates=300, seed=2, n_min=30, top_k=1)
    assert t["domain"].tolist() == ["A", "B", "C", "D", "E", "tiny"]
    ranked = t.iloc[:5]
    # 600 answers each, 0.1 apart: every replicate keeps the order
    assert ranked["rank"].tolist() == [1, 2, 3, 4, 5]
    assert (ranked["rank_low"] == ranked["rank"]).all() and (ranked["rank_high"] == ranked["rank"]).all()
    assert ranked["p_top_1"].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    tiny = t.iloc[5]
    assert tiny["suppressed"] and pd.isna(tiny["rank"]) and pd.isna(tiny["estimate"]) and tiny["n"] == 5
    # funnel around the whole (≈ 0.7): the best and worst agencies are far outside 99.8% limits
    assert ranked["funnel_flag"].tolist()[0] == "above_99.8" and ranked["funnel_flag"].tolist()[4] == "below_99.8"

