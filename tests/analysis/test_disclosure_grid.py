"""analysis.disclosure.product_suppression_grid (the decision the pages use, on arrays) gives exactly what
product_suppression (the rule as written, a work list over a dict of cells) gives: every cell's status, on random
organisation × time × channel tables, with the dimensions closed as the pages use them and otherwise, with a rank
and with the time root hidden first, and on deeper trees with many small cells like a national one."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.disclosure import product_suppression, product_suppression_grid
from tests.analysis.test_disclosure_product import N_MIN, _grow, _instance

CODE = {"": 0, "primary": 1, "secondary": 2}


def _grid(hier: list[dict[str, str | None]], n: dict[tuple[str, ...], int]):
    """Each dimension's nodes, their parents as positions, and the counts as a dense array (cells in C order)."""
    nodes = [list(h) for h in hier]
    ix = [{k: i for i, k in enumerate(ns)} for ns in nodes]
    parents = [[-1 if h[k] is None else ix[d][h[k]] for k in nodes[d]] for d, h in enumerate(hier)]
    grid = np.zeros(tuple(len(ns) for ns in nodes), dtype=np.int64)
    for cell, k in n.items():
        grid[tuple(ix[d][x] for d, x in enumerate(cell))] = k
    assert list(n) == sorted(n, key=lambda c: tuple(ix[d][x] for d, x in enumerate(c)))  # n is in C order
    return nodes, ix, parents, grid


def _both(hier, n, closed, rank_of_org, root_first: bool):
    """(the reference's codes as an array, the grid's)."""
    nodes, ix, parents, grid = _grid(hier, n)
    hide_first = (lambda cell, d: d == 1 and hier[1][cell[1]] is None) if root_first else None
    ref = product_suppression(hier, n, {c: k < N_MIN for c, k in n.items()}, N_MIN, closed=closed,
                              rank=lambda cell: rank_of_org[ix[0][cell[0]]], hide_first=hide_first)
    want = np.zeros(grid.shape, dtype=np.int8)
    for cell, s in ref.items():
        want[tuple(ix[d][x] for d, x in enumerate(cell))] = CODE[s]
    roots = np.array([hier[1][k] is None for k in nodes[1]]).reshape(1, -1, 1)
    got = product_suppression_grid(parents, grid, N_MIN, closed=closed, rank=np.asarray(rank_of_org).reshape(-1, 1, 1),
                                   hide_first=[None, roots, None] if root_first else None)
    return want, got


@pytest.mark.parametrize("closed", [(True, False, False), (True, True, True), (False, False, False)],
                         ids=["as-used", "all-closed", "all-open"])
@pytest.mark.parametrize("root_first", [True, False], ids=["root-first", "plain"])
def test_the_grid_decides_every_cell_as_the_work_list_does(closed, root_first):
    rng = np.random.default_rng(31 + 2 * sum(closed) + root_first)
    secondary = 0
    for case in range(60):
        hier, _leaf, n, _rows = _instance(rng)
        rank = rng.integers(0, 3, len(hier[0])).tolist()
        want, got = _both(hier, n, closed, rank, root_first)
        np.testing.assert_array_equal(got, want, err_msg=f"case {case}")
        secondary += int((want == 2).sum())
    assert secondary >= 100, secondary  # the work list had work to do


def _national_like(rng: np.random.Generator):
    """A deeper organisation (root → 3-6 provinces → 2-5 communes → 1-3 agencies → 1-4 points) over two quarters
    of months and every complete quarter together, five channels; many small point cells as in a national tree."""
    org = _grow(rng, "VN", [(3, 6), (2, 5), (1, 3), (1, 4)])
    time = {"so-far": None, "Q1": "so-far", "Q2": None, **{f"M{m}": "Q1" for m in (1, 2, 3)},
            **{f"M{m}": "Q2" for m in (4, 5)}}
    chan = {"*": None, "kiosk": "*", "qr": "*", "web": "*", "paper": "*"}
    leaves = [[k for k in h if k not in set(h.values())] for h in (org, time, chan)]
    scale = rng.choice([0.3, 2.0, 8.0, 25.0], size=(len(leaves[0]), 1, 1))
    leaf = rng.poisson(scale, size=tuple(len(lv) for lv in leaves))  # point × month × channel
    below = [np.array([[_is_under(h, x, node) for x in lv] for node in h], dtype=np.int64)
             for h, lv in zip((org, time, chan), leaves, strict=True)]  # node × leaf: 1 where it counts
    sums = np.einsum("ap,bm,cq,pmq->abc", *below, leaf)
    # every node's n: the sum of its points' (an index's n is at most that; the rule needs no more)
    n = {(o, t, c): int(sums[i, j, k]) for i, o in enumerate(org) for j, t in enumerate(time)
         for k, c in enumerate(chan) if sums[i, j, k] > 0}
    return [org, time, chan], n


def _is_under(parent: dict[str, str | None], leaf: str, node: str) -> bool:
    p: str | None = leaf
    while p is not None and p != node:
        p = parent[p]
    return p == node


def test_the_grid_equals_the_work_list_on_deeper_trees_with_many_small_cells():
    rng = np.random.default_rng(14)
    secondary = 0
    for case in range(12):
        hier, n = _national_like(rng)
        rank = [0 if "." in k and k.count(".") == 4 else 1 if k.count(".") == 3 else 2 for k in hier[0]]
        want, got = _both(hier, n, (True, False, False), rank, root_first=True)
        np.testing.assert_array_equal(got, want, err_msg=f"case {case}")
        secondary += int((want == 2).sum())
    assert secondary >= 50, secondary


def test_cells_without_responses_are_not_published():
    """n = 0 is no cell: it is never hidden, and a parent's check does not count it."""
    time = [-1, 0, 0, 0]  # Q4 ⊃ October, November, December
    got = product_suppression_grid([time], np.array([40, 20, 20, 0]), N_MIN)
    assert got.tolist() == [0, 0, 0, 0]
    got = product_suppression_grid([time], np.array([40, 20, 17, 3]), N_MIN)
    assert got.tolist() == [0, 0, 2, 1]  # as test_disclosure_product's December and November


@pytest.mark.parametrize("closed", [(True, False, False), (True, True, True), (False, True, False)],
                         ids=["as-used", "all-closed", "time-closed"])
def test_the_grid_equals_the_work_list_on_counts_that_do_not_add_up(closed):
    """Any counts (a child larger than its parent, cells without responses anywhere): the rule is defined for
    them, and the first state's unsafe checks are then of every kind (a hidden cell above shown ones, a hidden
    child with n_min or more below a shown parent)."""
    rng = np.random.default_rng(77 + sum(closed))
    kinds: set[tuple[int, int]] = set()
    for case in range(80):
        hier, _leaf, n, _rows = _instance(rng)
        n = {c: int(k) for c, k in zip(n, rng.choice([0, 0, 1, 3, 6, 9, 12, 20, 45], size=len(n)), strict=True)
             if k > 0}
        rank = rng.integers(0, 3, len(hier[0])).tolist()
        want, got = _both(hier, n, closed, rank, root_first=bool(case % 2))
        np.testing.assert_array_equal(got, want, err_msg=f"case {case}")
        kinds |= {(int(a), int(b)) for a, b in zip((want == 2).ravel(), (want == 1).ravel(), strict=True)}
    assert (1, 0) in kinds  # secondary cells occurred


def test_carried_cells_give_the_same_decision_both_ways_and_only_add():
    """`forced` (an earlier decision carried forward, survey/results/carried.py): the grid decides every cell as
    the work list does, and every forced cell with responses stays hidden (a carried state is just another
    starting point of the same loop)."""
    rng = np.random.default_rng(77)
    carried = 0
    for case in range(60):
        hier, _leaf, n, _rows = _instance(rng)
        _nodes, ix, parents, grid = _grid(hier, n)
        cells = list(n)
        forced = [cells[i] for i in rng.choice(len(cells), size=min(3, len(cells)), replace=False)]
        mask = np.zeros(grid.shape, dtype=bool)
        for cell in forced:
            mask[tuple(ix[d][x] for d, x in enumerate(cell))] = True
        closed = (True, False, False)
        ref = product_suppression(hier, n, {c: k < N_MIN for c, k in n.items()}, N_MIN, closed=closed,
                                  forced=forced)
        want = np.zeros(grid.shape, dtype=np.int8)
        for cell, s in ref.items():
            want[tuple(ix[d][x] for d, x in enumerate(cell))] = CODE[s]
        got = product_suppression_grid(parents, grid, N_MIN, closed=closed, forced=mask)
        np.testing.assert_array_equal(got, want, err_msg=f"case {case}")
        assert (got[mask & (grid > 0)] != 0).all()
        fresh = product_suppression_grid(parents, grid, N_MIN, closed=closed)
        carried += int(((got != 0) & (fresh == 0)).sum())
    assert carried >= 20, carried  # the forced cells hid something a fresh decision shows
