"""`totals_from_frame` has a fast path for plain columns (strings, integers); it must build the same totals
as the general path, which handles any column type (here forced with object-dtype label columns)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import estimate, totals_from_frame, totals_from_responses
from analysis.totals import ClusterTotals
from tests.analysis.core_fixtures import make_data, make_spec

DESIGN = {"weights": "weight", "strata": "district", "cluster": "service_point"}
DOMAINS = ("agency", "channel")


def _long_table(seed: int) -> pd.DataFrame:
    """A GROUP BY table in shuffled order, with rows of an item outside the spec — one of them the only
    row of a service point and of an agency, which must then not appear in the totals."""
    frame = totals_from_responses(make_data(n=1200, seed=seed), make_spec(), DOMAINS, **DESIGN).to_frame()
    extra = frame.iloc[:3].copy()
    extra["item"] = "not_in_spec"
    extra.loc[extra.index[0], ["cluster", "agency"]] = ["SP_only_other_items", "Z_only_other_items"]
    return pd.concat([frame, extra], ignore_index=True).sample(frac=1.0, random_state=seed)


def _general(frame: pd.DataFrame) -> pd.DataFrame:
    """The same strings in object-dtype columns: not plain, so the general path runs."""
    return frame.astype({c: object for c in ("cluster", *DOMAINS)})


def _assert_same_totals(a: ClusterTotals, b: ClusterTotals) -> None:
    assert a.items == b.items and a.domain_columns == b.domain_columns
    assert (a.weighted, a.clustered) == (b.weighted, b.clustered)
    pd.testing.assert_index_equal(a.strata, b.strata, exact=True)
    pd.testing.assert_frame_equal(a.clusters, b.clusters)
    pd.testing.assert_frame_equal(a.cells, b.cells)
    for name in ("cluster_stratum", "row_cluster", "row_cell", "stats"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("by", [(), ("agency",), DOMAINS])
def test_fast_path_builds_the_general_paths_totals(by):
    frame = _long_table(seed=11)
    fast = totals_from_frame(frame, make_spec(), by)
    _assert_same_totals(fast, totals_from_frame(_general(frame), make_spec(), by))
    assert "SP_only_other_items" not in set(fast.clusters["cluster"])
    assert "Z_only_other_items" not in set(fast.cells.get("agency", []))


def test_fast_path_with_a_design_list_and_integer_strata():
    frame = _long_table(seed=12)
    frame["stratum"] = frame["stratum"].str[1:].astype(np.int64)
    design = frame[["stratum", "cluster"]].drop_duplicates()
    design = pd.concat([design, pd.DataFrame({"stratum": [0, 99], "cluster": ["SP_unanswered", "SP_new_stratum"]})])
    fast = totals_from_frame(frame, make_spec(), ("agency",), design=design)
    general = totals_from_frame(_general(frame), make_spec(), ("agency",), design=design.astype({"cluster": object}))
    _assert_same_totals(fast, general)
    assert fast.n_strata == general.n_strata and 99 in set(fast.strata)
    measures = make_spec().measures
    e_fast, e_gen = estimate(fast, measures, ("agency",)), estimate(general, measures, ("agency",))
    np.testing.assert_array_equal(e_fast.variance, e_gen.variance)
    np.testing.assert_array_equal(e_fast.df, e_gen.df)


@pytest.mark.parametrize(
    ("rows", "width", "groups"),
    [(500, 7, 9), (3000, 30, 2000), (40, 30, 3), (300, 12 * 12, 100), (300, 12 * 12, 2), (5, 3, 10), (70000, 64, 9)],
)
def test_group_sums_add_rows_in_order_exactly_as_np_add_at(rows, width, groups):
    """Every path of the group sum (np.add.at, one bincount, rank by rank, column by column) adds in row order:
    the totals do not depend on the shape of the data they were built from."""
    from analysis.totals import _group_sum

    rng = np.random.default_rng(rows + width)
    codes = rng.integers(0, groups, rows)
    values = rng.standard_normal((rows, width)) * 10.0 ** rng.integers(-8, 8, (rows, width))
    values[rng.random((rows, width)) < 0.1] = -0.0
    expected = np.zeros((groups, width))
    np.add.at(expected, codes, values)
    got = _group_sum(codes, values, groups)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
    identity = _group_sum(np.arange(rows), values, rows)  # every row its own group, in order
    np.testing.assert_array_equal(np.signbit(identity), np.signbit(values + 0.0))
    np.testing.assert_array_equal(identity, values)
