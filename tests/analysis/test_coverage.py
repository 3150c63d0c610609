"""Coverage simulation (issue 3, methodology §3): over ≥ 1,000 replications from a known model, 95%
intervals must cover the true value between 93% and 97%.

Each replication is one unit's survey; all replications are analysed at once as domains of a single
design whose strata are nested in the replications, which gives exactly the estimates, variances and
df of analysing each replication alone (a stratum's clusters all belong to one replication), and lets
the whole simulation run as a few vectorised passes.  Seeded, hence deterministic.

- Wilson: simple random samples (no weights, strata or clusters) of 60 answers, true p in [0.6, 0.92].
- Taylor and Rao–Wu bootstrap (B = 200 per replication): 2 strata × 40 service points, cluster
  effects p_c ~ Beta(mean μ_h, concentration 25) (intra-cluster correlation ≈ 0.04), population shares
  0.6 / 0.4 with equal sample allocation (weights W_h/expected n_h), ~12 answers per service point,
  3% missing.  True value of an item = Σ_h W_h·μ_h; of the element (mean of two items) = mean of those.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import estimate, totals_from_responses
from analysis.bootstrap import bootstrap_intervals
from analysis.result import result_table
from questionnaires.index_spec import IndexSpec, ItemSpec, Measure, RatioKey

REPLICATIONS = 1500
CLUSTERS = 40  # per stratum
LOW, HIGH = 0.93, 0.97


def _spec() -> IndexSpec:
    items = {q: ItemSpec(q, (1, 2, 3, 4, 5), frozenset({4, 5})) for q in ("Q1", "Q2")}
    ms = (Measure("Q1", "item", ((RatioKey("Q1"), 1.0),)),
          Measure("Q2", "item", ((RatioKey("Q2"), 1.0),)),
          Measure("E1", "element", ((RatioKey("Q1"), 0.5), (RatioKey("Q2"), 0.5))))
    return IndexSpec("sim", 1, items, ms, n_min=0)


def _answers(p: np.ndarray, rng: np.random.Generator, missing: float = 0.0) -> np.ndarray:
    """5 (satisfied) with probability p, else 2; NaN with probability `missing`."""
    v = np.where(rng.random(p.size) < p, 5.0, 2.0)
    v[rng.random(p.size) < missing] = np.nan
    return v


def _covered(table: pd.DataFrame, truth: dict[str, np.ndarray]) -> dict[str, float]:
    out = {}
    for code, true in truth.items():
        t = table[table["measure"] == code]
        lo, hi = t["ci_low"].to_numpy(), t["ci_high"].to_numpy()
        assert np.isfinite(lo).all() and np.isfinite(hi).all()
        out[code] = float(np.mean((lo <= true) & (true <= hi)))
    return out


def test_wilson_covers_under_simple_random_sampling():
    rng = np.random.default_rng(20261)
    n = 60
    p = rng.uniform(0.6, 0.92, REPLICATIONS)
    rep = np.repeat(np.arange(REPLICATIONS), n)
    data = pd.DataFrame({"rep": rep, "Q1": _answers(p[rep], rng), "Q2": _answers(p[rep], rng)})
    spec = _spec()
    totals = totals_from_responses(data, spec, ("rep",))
    table = result_table(estimate(totals, spec.measures, ("rep",)), "wilson", n_min=0)
    assert (table.loc[table["measure"] == "Q1", "method"] == "wilson").all()
    cov = _covered(table, {"Q1": p, "Q2": p})
    assert all(LOW <= c <= HIGH for c in cov.values()), cov


def simulate_design(seed: int) -> tuple[IndexSpec, object, dict[str, np.ndarray]]:
    """(spec, totals, true values) of REPLICATIONS stratified clustered weighted samples."""
    rng = np.random.default_rng(seed)
    shares = np.array([0.6, 0.4])
    n_clusters, size = CLUSTERS, 12
    mu = {q: rng.uniform(0.55, 0.9, (REPLICATIONS, 2)) for q in ("Q1", "Q2")}
    mu["Q2"] = np.clip(mu["Q2"] + np.array([0.0, -0.1]), 0.3, 0.95)  # strata differ
    cols = {}
    c_rep = np.repeat(np.arange(REPLICATIONS), 2 * n_clusters)
    c_h = np.tile(np.repeat([0, 1], n_clusters), REPLICATIONS)
    m = rng.integers(size - 6, size + 7, c_rep.size)  # answers per service point: 6..18
    rows_rep, rows_h, rows_c = np.repeat(c_rep, m), np.repeat(c_h, m), np.repeat(np.arange(c_rep.size), m)
    kappa = 25.0
    for q in ("Q1", "Q2"):
        mean = mu[q][c_rep, c_h]
        p_c = rng.beta(mean * kappa, (1 - mean) * kappa)
        cols[q] = _answers(p_c[rows_c], rng, missing=0.03)
    weight = shares[rows_h] / (n_clusters * size)
    data = pd.DataFrame({"rep": rows_rep, "stratum": rows_rep * 2 + rows_h, "cluster": rows_c,
                         "weight": weight, **cols})
    truth = {q: mu[q] @ shares for q in ("Q1", "Q2")}
    truth["E1"] = (truth["Q1"] + truth["Q2"]) / 2
    spec = _spec()
    totals = totals_from_responses(data, spec, ("rep",), weights="weight", strata="stratum", cluster="cluster")
    return spec, totals, truth


@pytest.fixture(scope="module")
def design_sample():
    return simulate_design(20262)


def test_taylor_covers_under_a_stratified_clustered_weighted_design(design_sample):
    spec, totals, truth = design_sample
    est = estimate(totals, spec.measures, ("rep",))
    assert (est.df == 2 * CLUSTERS - 2).all()
    cov = _covered(result_table(est, "taylor", n_min=0), truth)
    assert all(LOW <= c <= HIGH for c in cov.values()), cov


def test_rao_wu_bootstrap_covers_under_the_same_design(design_sample):
    spec, totals, truth = design_sample
    est = estimate(totals, spec.measures, ("rep",))
    boot = bootstrap_intervals(totals, spec.measures, by=("rep",), replicates=200, seed=7)
    cov = _covered(result_table(est, "bootstrap", n_min=0, bootstrap=boot), truth)
    assert all(LOW <= c <= HIGH for c in cov.values()), cov
