"""analysis.disclosure: the rule for a total beside suppressed rows, checked by simulation against what a
reader can actually compute from the published figures (total minus the shown rows)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.disclosure import remainder_safe, secondary_suppression, tree_suppression

N_MIN = 30


def _rows(rng: np.random.Generator) -> tuple[list[int], list[bool]]:
    n = [int(k) for k in rng.choice([0, 1, 5, 12, 29, 30, 45, 120], size=int(rng.integers(1, 7)))]
    return n, [k < N_MIN for k in n]


def _published(n: list[int], sat: list[int], hidden: list[bool], with_hidden: bool) -> tuple[float, int]:
    """The total a page shows: over every row, or over the shown rows only."""
    keep = [i for i in range(len(n)) if with_hidden or not hidden[i]]
    tot_n = sum(n[i] for i in keep)
    return (sum(sat[i] for i in keep) / tot_n if tot_n else float("nan")), tot_n


def test_one_suppressed_row_beside_a_total_is_never_safe():
    assert not remainder_safe([40, 12], [False, True], N_MIN)
    assert not remainder_safe([40, 45, 29], [False, False, True], N_MIN)


def test_pooled_remainder_of_two_or_more_rows_with_n_min_is_safe_and_less_is_not():
    assert remainder_safe([40, 20, 15], [False, True, True], N_MIN)
    assert not remainder_safe([40, 20, 5], [False, True, True], N_MIN)
    assert remainder_safe([40, 50], [False, False], N_MIN)
    assert remainder_safe([40, 0], [False, True], N_MIN)  # a suppressed row without responses hides nothing


def test_secondary_suppression_hides_the_smallest_shown_rows_until_safe():
    assert secondary_suppression([40, 31, 12], [False, False, True], N_MIN) == [False, True, True]
    assert secondary_suppression([40, 12], [False, True], N_MIN) == [True, True]
    assert secondary_suppression([40, 20, 15], [False, True, True], N_MIN) == [False, True, True]


@pytest.mark.parametrize("seed", range(5))
def test_what_a_reader_can_work_out_is_never_a_suppressed_figure(seed):
    """Random pages: single-item shares (the exact case).  When the rule allows the full total, the remainder a
    reader forms pools >= n_min responses of >= 2 suppressed rows; otherwise the total over the shown rows
    (or with secondary suppression) leaves nothing to form."""
    rng = np.random.default_rng(seed)
    for _ in range(400):
        n, hidden = _rows(rng)
        sat = [int(rng.integers(0, k + 1)) for k in n]
        safe = remainder_safe(n, hidden, N_MIN)
        for strategy in ("shown_only", "secondary"):
            h = hidden if strategy == "shown_only" else secondary_suppression(n, hidden, N_MIN)
            with_hidden = safe if strategy == "shown_only" else True
            total, total_n = _published(n, sat, h, with_hidden)
            shown = [i for i in range(len(n)) if not h[i]]
            rem_n = total_n - sum(n[i] for i in shown)
            if rem_n == 0 or total_n < N_MIN:  # nothing to form, or the total is itself suppressed
                continue
            # the reader's remainder: exactly the pooled suppressed rows' share ...
            rem = (total * total_n - sum(sat[i] for i in shown)) / rem_n
            pooled = [i for i in range(len(n)) if h[i] and n[i] > 0]
            assert rem == pytest.approx(sum(sat[i] for i in pooled) / rem_n)
            # ... which is a figure of at least n_min responses from at least two rows
            assert rem_n >= N_MIN and len(pooled) >= 2, (n, hidden, strategy)


# --------------------------------------------------------------------------- linked pages: a whole tree
def _tree(rng: np.random.Generator) -> tuple[dict[str, str | None], dict[str, int]]:
    """A random city: root → units → (sub-units or agencies) → service points; every node published on some
    page unless hidden.  n of a parent = the sum of its leaves (service points)."""
    parent: dict[str, str | None] = {"city": None}
    leaves: dict[str, int] = {}

    def grow(node: str, depth: int) -> None:
        for i in range(int(rng.integers(1, 4))):
            child = f"{node}.{i}"
            parent[child] = node
            if depth == 3 or (depth >= 2 and rng.random() < 0.3):
                leaves[child] = int(rng.choice([0, 2, 4, 7, 12, 25, 30, 60]))
            else:
                grow(child, depth + 1)

    grow("city", 1)
    n = dict(leaves)
    for leaf, k in leaves.items():
        p = parent[leaf]
        while p is not None:
            n[p] = n.get(p, 0) + k
            p = parent[p]
    return parent, n


def _derivable(parent: dict[str, str | None], n: dict[str, int], hidden: set[str], node: str) -> bool:
    """Independent of the rule: can a reader who sees every shown node's total (satisfied answers, with every
    node's n) work out `node`'s own total exactly?  Linear algebra over the hidden leaves: the node's
    indicator lies in the span of the shown nodes' hidden parts."""
    leaves = sorted(k for k in n if k not in parent.values() and k in hidden and n[k] > 0)
    col = {leaf: j for j, leaf in enumerate(leaves)}

    def under(v: str) -> np.ndarray:
        row = np.zeros(len(leaves))
        for leaf in leaves:
            p: str | None = leaf
            while p is not None and p != v:
                p = parent[p]
            if p == v:
                row[col[leaf]] = 1
        return row

    target = under(node)
    if not target.any():
        return False
    eqs = [under(v) for v in n if v not in hidden and v in parent.values()]
    if not eqs:
        return False
    a = np.array(eqs)
    return bool(np.linalg.matrix_rank(np.vstack([a, target])) == np.linalg.matrix_rank(a))


@pytest.mark.parametrize("seed", range(4))
def test_tree_suppression_leaves_no_small_hidden_figure_derivable(seed):
    """Random trees: after tree_suppression no node with fewer than n_min responses can be worked out from the
    shown nodes (parents on one page, children on another); with the primary suppression alone some can (so
    the check can fail)."""
    rng = np.random.default_rng(100 + seed)
    leaked_before = 0
    for _ in range(60):
        parent, n = _tree(rng)
        primary = {k: 0 < v < N_MIN for k, v in n.items()}
        status = tree_suppression(parent, n, primary, N_MIN)
        hidden = {k for k, s in status.items() if s}
        assert {k for k, p in primary.items() if p} <= hidden
        assert all(status[k] == "secondary" for k in hidden if not primary[k])
        for k in n:
            if primary[k]:
                assert not _derivable(parent, n, hidden, k), (seed, k, n, status)
        before = {k for k, p in primary.items() if p}
        before |= {k for k in n if any(a in before for a in _ancestors(parent, k))}
        leaked_before += sum(_derivable(parent, n, before, k) for k in n if primary[k])
    assert leaked_before > 0


def _ancestors(parent: dict[str, str | None], k: str) -> list[str]:
    out = []
    p = parent[k]
    while p is not None:
        out.append(p)
        p = parent[p]
    return out


def test_tree_suppression_hides_the_smallest_sibling_and_says_which_is_secondary():
    """A district with a commune of 3 responses and two agencies of 12 and 40: the 12 is hidden with it (the
    district minus the shown agencies is then a group of 15 from 2 rows); the city is left alone."""
    parent = {"city": None, "d": "city", "e": "city", "d.c": "d", "d.a": "d", "d.b": "d"}
    n = {"city": 155, "d": 55, "e": 100, "d.c": 3, "d.a": 12, "d.b": 40}
    status = tree_suppression(parent, n, {k: v < 10 for k, v in n.items()}, 10)
    assert status == {"city": "", "d": "", "e": "", "d.c": "primary", "d.a": "secondary", "d.b": ""}
