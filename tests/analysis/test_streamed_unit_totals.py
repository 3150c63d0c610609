"""Unit-level totals read from a file in many batches (service points as strata: the national export's
design) keep one row per group, not one per group and batch: memory stays flat in the number of
batches, and the totals are those of reading the file in one batch (bit for bit when unweighted: integer
sums; weighted sums are added in another order, so equal to rounding)."""

from __future__ import annotations

import tracemalloc
from functools import partial

import numpy as np
import pytest

from analysis.data import DesignColumns, read_totals
from analysis.totals import UNIT_VARS
from tests.analysis.core_fixtures import ITEMS, make_data, make_spec

STRATA = 60


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    data = make_data(n=6000, seed=11, n_strata=STRATA, clusters_per_stratum=1)
    path = tmp_path_factory.mktemp("streamed") / "export.csv"
    data.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("weights", [None, "weight"])
def test_many_batches_give_the_totals_of_one_batch(data_file, weights):
    spec = make_spec()
    cols = DesignColumns(by=("agency",), weights=weights, strata="service_point")
    one = read_totals(data_file, spec, cols, batch_rows=10_000, unit_level=True)
    many = read_totals(data_file, spec, cols, batch_rows=97, unit_level=True)
    assert one.unit is not None and many.unit is not None
    same = np.testing.assert_array_equal if weights is None else partial(np.testing.assert_allclose, rtol=1e-13)
    for name in ("cluster_stratum", "row_cluster", "row_cell"):
        np.testing.assert_array_equal(getattr(one, name), getattr(many, name), err_msg=name)
    same(one.stats, many.stats)
    assert list(one.strata) == list(many.strata)
    assert one.cells.equals(many.cells) and one.clusters.equals(many.clusters)
    assert one.unit.gram is not None and many.unit.gram is not None
    same(one.unit.gram, many.unit.gram)
    np.testing.assert_array_equal(one.unit.n_h, many.unit.n_h)
    np.testing.assert_array_equal(one.unit.row_n, many.unit.row_n)


def test_memory_does_not_grow_with_the_batches(data_file):
    """62 batches of 97 rows, each touching ~60 of the 180 (service point, agency) groups: keeping every
    batch's Gram matrices held ~60× the groups' own (19 MB here; the national export: 10.4 GB at 1 M), merged ~7×."""
    spec = make_spec()
    cols = DesignColumns(by=("agency",), strata="service_point")
    p = len(UNIT_VARS) * len(ITEMS)
    groups = STRATA * 3
    own = groups * p * p * 8  # the groups' Gram matrices, float64
    tracemalloc.start()
    try:
        totals = read_totals(data_file, spec, cols, batch_rows=97, unit_level=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert totals.unit is not None and totals.unit.gram is not None and len(totals.unit.gram) == groups
    assert peak < 16 * own, f"peak {peak / 2**20:.1f} MB for {own / 2**20:.1f} MB of Gram matrices"
