"""Holm and Benjamini–Hochberg against R's p.adjust (reference/extras_reference.R)."""

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.multiple import benjamini_hochberg, holm, p_adjust

REF = json.loads((Path(__file__).parent / "reference" / "extras_reference.json").read_text())["padjust"]


def _arr(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def test_holm_matches_r_p_adjust_with_missing_values():
    np.testing.assert_allclose(holm(_arr(REF["p"])), _arr(REF["holm"]), rtol=1e-12, equal_nan=True)


def test_bh_matches_r_p_adjust_with_missing_values():
    got = benjamini_hochberg(_arr(REF["p"]))
    np.testing.assert_allclose(got, _arr(REF["BH"]), rtol=1e-12, equal_nan=True)


def test_textbook_holm_example():
    # Holm (1979) step-down by hand: sorted 0.01, 0.02, 0.03 × (3, 2, 1) = 0.03, 0.04, 0.03 → monotone 0.04.
    np.testing.assert_allclose(holm([0.03, 0.01, 0.02]), [0.04, 0.03, 0.04])


def test_adjusted_values_never_below_raw_and_capped_at_one():
    p = np.array([0.5, 0.6, 0.01, 0.9])
    for adj in (holm(p), benjamini_hochberg(p)):
        assert np.all(adj >= p) and np.all(adj <= 1)


def test_dispatch_by_r_names_and_errors():
    p = [0.01, 0.04]
    np.testing.assert_array_equal(p_adjust(p, "BH"), benjamini_hochberg(p))
    np.testing.assert_array_equal(p_adjust(p, "fdr"), benjamini_hochberg(p))
    np.testing.assert_array_equal(p_adjust(p, "none"), p)
    with pytest.raises(ValueError, match="unknown adjustment"):
        p_adjust(p, "bonferroni-ish")
    with pytest.raises(ValueError, match="outside"):
        holm([0.2, 1.5])


def test_empty_and_all_missing():
    assert holm([]).size == 0
    assert np.isnan(benjamini_hochberg([np.nan, np.nan])).all()
