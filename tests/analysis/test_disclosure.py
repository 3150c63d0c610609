"""analysis.disclosure: the rule for a total beside suppressed rows, checked by simulation against what a
reader can actually compute from the published figures (total minus the shown rows)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.disclosure import remainder_safe, secondary_suppression

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
