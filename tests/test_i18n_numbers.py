"""The fast number formatter prints exactly what Babel prints for the same pattern (vi and en)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from babel.numbers import format_decimal, format_percent

from survey.i18n import fixed

EDGES = [0.0, -0.0, 0.5, 1.5, 2.5, 2.675, 0.125, 0.135, -0.00004, -0.004, 0.9999999, 1234567.891, -9876.5,
         0.8497, 0.84965, 1e-12, 123456789012.345, 0.1 + 0.2]


def _values():
    rng = np.random.default_rng(11)
    raw = list(rng.uniform(-1, 1, 400)) + list(rng.uniform(0, 1, 400).round(4)) + \
        list(rng.normal(0, 1e4, 200)) + list(rng.integers(-10**7, 10**7, 100) / 1000)
    return EDGES + [float(v) for v in raw]


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("digits", [0, 1, 2, 3])
def test_fixed_equals_babel(lang, digits):
    fmt = "#,##0." + "0" * digits if digits else "#,##0"
    for v in _values():
        assert fixed(v, digits, lang) == format_decimal(v, format=fmt, locale=lang), (v, digits, lang)
        assert fixed(v, digits, lang, as_percent=True) == format_percent(v, format=fmt + "%", locale=lang), \
            (v, digits, lang)


@pytest.mark.parametrize("lang", ["vi", "en", "fr"])
def test_infinite_and_other_languages_are_babel_s(lang):
    for v in (math.inf, -math.inf, 1234.5):
        assert fixed(v, 1, lang) == format_decimal(v, format="#,##0.0", locale=lang)
        assert fixed(v, 1, lang, as_percent=True) == format_percent(v, format="#,##0.0%", locale=lang)


def test_vietnamese_separators():
    assert fixed(0.8497, 2, "vi", as_percent=True) == "84,97%"
    assert fixed(12345.6, 0, "vi") == "12.346"
    assert fixed(12345.6, 0, "en") == "12,346"
    assert not math.isnan(float(fixed(1.25, 1, "en")))
