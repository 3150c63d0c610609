"""Sample-size planning (methodology §5).

Two formulas are offered because agencies meet both: the survey-statistics one, which accounts for
the expected proportion and the design effect of clustered kiosk samples, and Yamane's
n = N/(1 + N·e²), which the Ministry's 2013 guidance prescribes (it silently assumes p = 0.5, 95%
confidence with z ≈ 2 and no design effect). Results are rounded up: a plan must reach the margin.
"""

from __future__ import annotations

import math

from scipy.stats import norm

__all__ = ["sample_size", "yamane"]

_EPS = 1e-9  # guards ceil() against 384.00000000001 from floating-point noise


def _ceil(x: float) -> int:
    return math.ceil(x - _EPS)


def _check_population(population: float | None) -> None:
    if population is None:
        return
    if isinstance(population, bool) or not float(population).is_integer() or population < 1:
        raise ValueError(f"population must be a whole number ≥ 1, got {population}")


def _check_margin(margin: float) -> None:
    if not 0 < margin < 1:
        raise ValueError(f"margin must be a proportion in (0, 1) (e.g. 0.05 for ±5 points), got {margin}")


def sample_size(margin: float, p: float = 0.5, deff: float = 1.0, population: int | None = None,
                confidence: float = 0.95) -> int:
    """Respondents needed for a CI half-width `margin` on a proportion near `p`.

    n₀ = z²·p(1−p)·deff/e²; with a finite population N, n = n₀/(1 + (n₀ − 1)/N) (Cochran's
    correction), never more than N.
    """
    _check_margin(margin)
    if not 0 < p < 1:
        raise ValueError(f"p must be a proportion in (0, 1), got {p}")
    if not deff > 0 or math.isinf(deff):
        raise ValueError(f"deff must be a positive number, got {deff}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1) (e.g. 0.95), got {confidence}")
    _check_population(population)
    z = norm.ppf(0.5 + confidence / 2)
    n0 = z * z * p * (1 - p) * deff / (margin * margin)
    if population is None:
        return _ceil(n0)
    n = n0 / (1 + (n0 - 1) / population)
    return min(_ceil(n), int(population))


def yamane(population: int, margin: float = 0.05) -> int:
    """Yamane (1967) n = N/(1 + N·e²), as in the Ministry of Home Affairs' 2013 guidance."""
    _check_margin(margin)
    if population is None:
        raise ValueError("Yamane's formula needs the population size")
    _check_population(population)
    return _ceil(population / (1 + population * margin * margin))
