"""The compiled index definition: what `analysis` needs to know about a questionnaire.

Every published figure (item, element, overall, PAPI scores) is an affine combination of ratio
estimators Σw·y / Σw·a.  Compiling the questionnaire's index definition to that form once keeps the
statistics generic: `analysis` never parses questionnaire files, and a new index rule is a data change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

RatioKind = Literal["sat", "mean"]
MeasureKind = Literal[
    "item", "item_mean", "element", "overall", "papi_subdimension", "papi_dimension", "papi_total"
]


@dataclass(frozen=True, order=True)
class RatioKey:
    """A ratio Σw·y/Σw·a on one item: y = satisfied indicator (`sat`) or the level value (`mean`)."""

    item: str
    kind: RatioKind = "sat"


@dataclass(frozen=True)
class ItemSpec:
    """A scored item: its valid levels and which of them count as satisfied."""

    code: str
    values: tuple[int, ...]
    satisfied: frozenset[int]
    text_vi: str = ""
    text_en: str = ""

    @property
    def min(self) -> int:
        return min(self.values)

    @property
    def max(self) -> int:
        return max(self.values)


@dataclass(frozen=True)
class Measure:
    """const + Σ coef·ratio.  `code` is what result tables show in their `measure` column."""

    code: str
    kind: MeasureKind
    terms: tuple[tuple[RatioKey, float], ...]
    const: float = 0.0
    title_vi: str = ""
    title_en: str = ""

    @property
    def ratios(self) -> tuple[RatioKey, ...]:
        return tuple(k for k, _ in self.terms)


@dataclass(frozen=True)
class IndexSpec:
    """Scored items and the measures built on them, in display order."""

    questionnaire: str
    version: int
    items: dict[str, ItemSpec]
    measures: tuple[Measure, ...]
    n_min: int = 30
    meta: dict[str, str] = field(default_factory=dict)

    def ratios(self) -> tuple[RatioKey, ...]:
        """All distinct ratios the measures use, sorted (a stable column order for totals)."""
        return tuple(sorted({k for m in self.measures for k, _ in m.terms}))

    def measure(self, code: str) -> Measure:
        for m in self.measures:
            if m.code == code:
                return m
        raise KeyError(code)
