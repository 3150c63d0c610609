"""Shared builders for the core analysis tests: a small IndexSpec and seeded respondent data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from questionnaires.index_spec import IndexSpec, ItemSpec, Measure, RatioKey

ITEMS = ("Q1", "Q2", "Q3", "Q4", "Q5")
ELEMENTS = {"E1": ("Q1", "Q2"), "E2": ("Q3", "Q4", "Q5")}


def make_spec(n_min: int = 30) -> IndexSpec:
    """Two elements (2 + 3 items on a 5-level scale), overall = mean of elements, plus item means."""
    items = {c: ItemSpec(c, (1, 2, 3, 4, 5), frozenset({4, 5})) for c in ITEMS}
    measures: list[Measure] = [Measure(c, "item", ((RatioKey(c, "sat"), 1.0),)) for c in ITEMS]
    measures += [Measure(f"{c}:mean", "item_mean", ((RatioKey(c, "mean"), 1.0),)) for c in ITEMS]
    for code, its in ELEMENTS.items():
        measures.append(Measure(code, "element", tuple((RatioKey(i, "sat"), 1 / len(its)) for i in its)))
    overall: list[tuple[RatioKey, float]] = []
    for its in ELEMENTS.values():
        overall += [(RatioKey(i, "sat"), 0.5 / len(its)) for i in its]
    measures.append(Measure("overall", "overall", tuple(overall)))
    # a PAPI-like affine measure: 1/k + 9/k · mean(indicators), k = 2
    measures.append(
        Measure("P1", "papi_subdimension", ((RatioKey("Q1", "sat"), 2.25), (RatioKey("Q3", "sat"), 2.25)), 0.5)
    )
    return IndexSpec("test", 1, items, tuple(measures), n_min=n_min)


def make_data(n: int = 3000, seed: int = 1, n_strata: int = 4, clusters_per_stratum: int = 6) -> pd.DataFrame:
    """Respondents with weights, strata, clusters (service points), agencies crossing clusters, ~5% NA."""
    rng = np.random.default_rng(seed)
    n_cl = n_strata * clusters_per_stratum
    cluster = rng.integers(0, n_cl, n)
    df = pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(n)],
            "district": [f"D{c // clusters_per_stratum}" for c in cluster],
            "service_point": [f"SP{c:03d}" for c in cluster],
            "agency": rng.choice(["A", "B", "C"], n),
            "channel": rng.choice(["kiosk", "qr"], n),
            "weight": rng.uniform(0.5, 3.0, n),
        }
    )
    effect = rng.normal(0, 0.6, n_cl)[cluster]
    for i, c in enumerate(ITEMS):
        latent = 3.3 + 0.2 * i + effect + rng.normal(0, 1, n)
        v = np.clip(np.rint(latent), 1, 5)
        v[rng.random(n) < 0.05] = np.nan
        df[c] = v
    return df
