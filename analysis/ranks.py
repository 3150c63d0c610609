"""League tables with honest uncertainty: ranks from replicate estimates (methodology §4).

Replicates come from the Rao–Wu bootstrap of clusters, or, for unit-level totals (service points as
strata, respondents as the units: nothing to resample), from the domains' Taylor normal law on the
logit scale (`analysis.bootstrap.normal_replicates`); `rank_table`'s `rank_method` column says which.

Marshall & Spiegelhalter (BMJ 1998) showed that ranks of units read off point estimates mislead:
most units' ranks are compatible with a wide range. From B replicate estimates of every unit we
rank the units within each replicate and report, per unit: the point rank, a 95% rank interval, the
probability of being in the top k, and the probability of each performance quartile (the PAPI
grouping: quartile boundaries at the 25/50/75th percentiles of the units' estimates, recomputed in
every replicate).

Conventions: rank 1 = best (highest satisfaction); ties share the best rank of the tie ("1224"
ranking); quartile 1 = top group (estimate ≥ 75th percentile), 4 = bottom (< 25th). Suppressed units
(n < n_min) are listed with empty rank columns and are excluded **before** ranking, so they never
shift anyone else's rank. A unit whose replicate estimate is undefined (all its clusters got weight
0 in that replicate) keeps its full-sample estimate in that replicate, so the set of ranked units is
the same in every replicate; `defined` reports the share of replicates where it was estimable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from analysis.bootstrap import BOOTSTRAP_METHOD, DEFAULT_REPLICATES, bootstrap_replicates, normal_replicates
from analysis.estimate import estimate
from analysis.funnel import design_n_eff, funnel_flags
from analysis.result import UNIT_KINDS, domain_labels
from analysis.totals import ClusterTotals
from questionnaires.index_spec import Measure

__all__ = ["QUARTILE_LABELS", "rank_replicates", "rank_table", "rank_units", "replicate_ranks"]

QUARTILE_LABELS = ("q1", "q2", "q3", "q4")


def replicate_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks along the last axis, 1 = highest value, ties get the smallest rank ("min")."""
    return rankdata(-values, method="min", axis=-1).astype(np.int64)


def _quartile_groups(values: np.ndarray) -> np.ndarray:
    """1..4 along the last axis, 1 = top quarter, boundaries at the 25/50/75th percentiles."""
    cuts = np.percentile(values, [25, 50, 75], axis=-1)  # shape (3, ...)
    q25, q50, q75 = (c[..., None] for c in cuts)
    return np.where(values >= q75, 1, np.where(values >= q50, 2, np.where(values >= q25, 3, 4)))


def rank_units(units: Sequence[str], estimates: Sequence[float] | np.ndarray, replicates: np.ndarray,
               *, suppressed: Sequence[bool] | np.ndarray | None = None, top_k: int | None = None,
               level: float = 0.95) -> pd.DataFrame:
    """One row per unit: `unit, estimate, suppressed, rank, rank_low, rank_high, p_top_k, p_q1..p_q4,
    quartile, defined`, sorted by rank (suppressed units last, unranked).

    `replicates` has shape (B, units). `top_k` defaults to a quarter of the ranked units (rounded
    up). The rank interval is the pair of replicate-rank quantiles at (1 ± level)/2, taken as
    observed ranks (inverted CDF), so both ends are integers that occurred.
    """
    units = list(units)
    est = np.asarray(estimates, dtype=float)
    reps = np.asarray(replicates, dtype=float)
    n_units = len(units)
    if est.shape != (n_units,):
        raise ValueError(f"{n_units} units but {est.size} estimates")
    if reps.ndim != 2 or reps.shape[1] != n_units:
        raise ValueError(f"replicates must have shape (B, {n_units}), got {reps.shape}")
    if reps.shape[0] < 2:
        raise ValueError("ranking needs at least 2 bootstrap replicates")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    sup = np.zeros(n_units, bool) if suppressed is None else np.asarray(suppressed, dtype=bool)
    if sup.shape != (n_units,):
        raise ValueError(f"{n_units} units but {sup.size} suppression flags")
    no_estimate = ~np.isfinite(est) & ~sup
    if no_estimate.any():
        bad = [u for u, b in zip(units, no_estimate, strict=True) if b]
        raise ValueError(f"unit(s) without an estimate cannot be ranked (suppress them first): {bad[:5]}")

    keep = ~sup
    m = int(keep.sum())
    k = top_k if top_k is not None else max(1, -(-m // 4))
    if k < 1:
        raise ValueError(f"top_k must be ≥ 1, got {k}")
    cols = ["unit", "estimate", "suppressed", "rank", "rank_low", "rank_high", f"p_top_{k}",
            *(f"p_{q}" for q in QUARTILE_LABELS), "quartile", "defined"]
    out = pd.DataFrame({"unit": units, "estimate": est, "suppressed": sup})
    for c in cols[3:]:
        out[c] = np.nan
    if m == 0:
        return out[cols]

    e = est[keep]
    r = reps[:, keep]
    finite = np.isfinite(r)
    r = np.where(finite, r, e[None, :])
    ranks = replicate_ranks(r)
    groups = _quartile_groups(r)
    alpha = (1 - level) / 2
    out.loc[keep, "rank"] = replicate_ranks(e)
    out.loc[keep, "rank_low"] = np.quantile(ranks, alpha, axis=0, method="inverted_cdf")
    out.loc[keep, "rank_high"] = np.quantile(ranks, 1 - alpha, axis=0, method="inverted_cdf")
    out.loc[keep, f"p_top_{k}"] = (ranks <= k).mean(axis=0)
    for g, label in enumerate(QUARTILE_LABELS, start=1):
        out.loc[keep, f"p_{label}"] = (groups == g).mean(axis=0)
    out.loc[keep, "quartile"] = _quartile_groups(e)
    out.loc[keep, "defined"] = finite.mean(axis=0)
    for c in ("rank", "rank_low", "rank_high", "quartile"):
        out[c] = out[c].astype("Int64")
    out = out.sort_values(["suppressed", "rank", "unit"], kind="mergesort", na_position="last")
    return out[cols].reset_index(drop=True)


def rank_replicates(totals: ClusterTotals, measure: Measure, by: Sequence[str], *,
                    replicates: int = DEFAULT_REPLICATES, seed: int | None = 1,
                    domains: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """(replicates × cells of `by`, method) for `rank_units`: the Rao–Wu bootstrap of clusters, or,
    for unit-level totals (no clusters to resample), draws from the domains' Taylor normal law
    (`analysis.bootstrap.normal_replicates`; `domains` = the domains to be ranked).  `method` is the
    text to show beside the ranks ("bootstrap (Rao–Wu)", "normal (logit), independent units", …)."""
    if totals.unit is not None:
        return normal_replicates(totals, measure, by, replicates, seed, domains=domains)
    return bootstrap_replicates(totals, (measure,), by, replicates, seed)[:, :, 0], BOOTSTRAP_METHOD


def rank_table(totals: ClusterTotals, measure: Measure, by: Sequence[str], *,
               replicates: int = DEFAULT_REPLICATES, seed: int | None = 1, n_min: int = 30,
               top_k: int | None = None, level: float = 0.95) -> pd.DataFrame:
    """League table of the domains of `by` on one measure, from the Rao–Wu bootstrap (cluster totals)
    or normal draws (unit-level totals), as `rank_replicates` chooses; column `rank_method` says which.

    Columns: by, domain, measure, estimate, n, n_eff, suppressed, then the columns of `rank_units`
    (rank …, defined) and funnel-plot columns (limits around the whole population's estimate at
    n_eff, and `funnel_flag`; only for measures on the 0–1 scale, empty otherwise), then `rank_method`.  Suppressed
    domains (n < n_min or no answers) keep their row, with the estimate blanked and no rank.
    """
    by = tuple(by)
    if not by:
        raise ValueError("ranking needs a domain column (--by)")
    est = estimate(totals, (measure,), by)
    whole = estimate(totals, (measure,), ())
    _, labels = domain_labels(est)
    point = est.estimate[:, 0]
    suppressed = ~est.answered[:, 0] | (est.n[:, 0] < n_min)
    reps, method = rank_replicates(totals, measure, by, replicates=replicates, seed=seed, domains=~suppressed)
    ranked = rank_units(labels, np.where(suppressed, np.nan, point), reps, suppressed=suppressed,
                        top_k=top_k, level=level)
    info = pd.DataFrame({"by": ":".join(by), "domain": labels, "measure": measure.code,
                         "n": est.n[:, 0], "n_eff": design_n_eff(point, est.se[:, 0], est.n_eff[:, 0])})
    out = info.merge(ranked.rename(columns={"unit": "domain"}), on="domain", how="right")
    theta0 = float(whole.estimate[0, 0])
    if measure.kind in UNIT_KINDS and np.isfinite(theta0) and 0 <= theta0 <= 1:
        f = funnel_flags(out["estimate"].to_numpy(), out["n_eff"].to_numpy(), theta0)
        for col in f.columns.drop(["estimate", "n_eff"]):
            out[f"funnel_{col}"] = f[col].to_numpy()
    else:
        for col in ("lower_95", "upper_95", "lower_99.8", "upper_99.8", "flag"):
            out[f"funnel_{col}"] = np.nan
    out.insert(out.columns.get_loc("funnel_lower_95"), "overall", theta0)  # type: ignore[arg-type]  # unique label
    out["rank_method"] = method
    first = ["by", "domain", "measure", "estimate", "n", "n_eff", "suppressed"]
    return out[first + [c for c in out.columns if c not in first]]
