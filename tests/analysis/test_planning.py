"""Sample sizes against hand calculations of Cochran (1977) and Yamane (1967) formulas."""

import pytest

from analysis.planning import sample_size, yamane


def test_classic_384():
    # 1.959964² · 0.25 / 0.05² = 384.15 → 385 (the "n = 384" rule uses z = 1.96 and rounds down).
    assert sample_size(0.05) == 385


def test_finite_population_correction_by_hand():
    # n₀ = 384.146; n₀/(1 + (n₀−1)/N): N = 1000 → 277.7, N = 500 → 217.5, N = 100 → 79.5 (rounded up).
    # Krejcie & Morgan's (1970) table, from the nearly equal χ² formula, lists 278, 217 (rounded), 80.
    assert sample_size(0.05, population=1000) == 278
    assert sample_size(0.05, population=500) == 218
    assert sample_size(0.05, population=100) == 80


def test_design_effect_and_p_scale_n():
    # z²·0.2·0.8·2/0.03² = 3.8415·0.32/0.0009 = 1365.8 → 1366.
    assert sample_size(0.03, p=0.8, deff=2.0) == 1366
    assert sample_size(0.05, p=0.1) < sample_size(0.05, p=0.5)


def test_never_more_than_the_population():
    assert sample_size(0.01, population=10) == 10


def test_yamane_by_hand():
    assert yamane(10_000) == 385   # 10000 / 26 = 384.6
    assert yamane(1_000) == 286    # 1000 / 3.5 = 285.7
    assert yamane(400, margin=0.1) == 80  # 400 / 5 exactly: no spurious round-up


@pytest.mark.parametrize(("kwargs", "msg"), [
    ({"margin": 0}, "margin"), ({"margin": 5}, "margin"), ({"margin": 0.05, "p": 1}, "p must"),
    ({"margin": 0.05, "deff": 0}, "deff"), ({"margin": 0.05, "population": 0}, "population"),
    ({"margin": 0.05, "population": 10.5}, "population"), ({"margin": 0.05, "confidence": 95}, "confidence"),
])
def test_invalid_inputs_are_explained(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        sample_size(**kwargs)


def test_yamane_invalid():
    with pytest.raises(ValueError, match="population"):
        yamane(-3)
