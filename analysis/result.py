"""The tidy result table: one row per (domain, measure) with stable columns.

Columns, in this order: `by, domain, measure, estimate, se, ci_low, ci_high, n, n_eff, df, method,
suppressed`, then two extra columns: `reason` (why a row is suppressed or has no interval; empty when
nothing is wrong) and `wide_ci` (CI half-width above `max_halfwidth` on a 0–1 measure).

Decisions (analysis/README.md, "Edge cases"):
- no answer in the domain for some ratio of the measure → estimate, se, CI NaN, suppressed, reason
  `no_answers`;
- n < n_min → suppressed, reason `n_below_min`; the estimate stays in this table for internal use and
  `blank_suppressed` (used by the CLI) empties estimate, se and CI;
- df ≤ 0 under a design (all answers in one cluster, e.g. a domain of one service point when clusters
  are service points) → the variance is not estimable: se and CI NaN, reason `df_zero`, the estimate
  itself is still published when n ≥ n_min;
- proportion intervals at p ∈ {0, 1}: Wilson / Clopper–Pearson are exact there; logit falls back to
  Korn–Graubard (method column says so); Taylor gives the degenerate [p, p] (use a proportion method).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis import intervals
from analysis.estimate import DomainEstimates

COLUMNS: tuple[str, ...] = (
    "by", "domain", "measure", "estimate", "se", "ci_low", "ci_high",
    "n", "n_eff", "df", "method", "suppressed",
)  # fmt: skip
EXTRA_COLUMNS: tuple[str, ...] = ("reason", "wide_ci")
CI_METHODS: tuple[str, ...] = ("wilson", "clopper-pearson", "taylor", "logit", "korn-graubard", "bootstrap")
ALL_LABEL = "all"
MISSING_LABEL = "(missing)"
#: measure kinds on the 0–1 scale, for which the half-width flag is meaningful
UNIT_KINDS = frozenset({"item", "element", "overall"})


def domain_labels(est: DomainEstimates) -> tuple[str, list[str]]:
    """(`by` label, one `domain` label per cell): column names / values joined with ':'; 'all' = whole."""
    if not est.by:
        return ALL_LABEL, [ALL_LABEL] * len(est.cells)
    parts = []
    for col in est.by:
        vals = est.cells[col]
        parts.append([MISSING_LABEL if pd.isna(v) else str(v) for v in vals])
    return ":".join(est.by), [":".join(p) for p in zip(*parts, strict=True)]


def result_table(
    est: DomainEstimates,
    ci: str = "wilson",
    *,
    level: float = 0.95,
    n_min: int = 30,
    max_halfwidth: float = 0.10,
    bootstrap: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Build the result table from `estimate()` output.

    `ci`: `wilson` (default) and `clopper-pearson` apply to item proportions — exactly for a simple
    random sample; under a design Wilson uses n* = p(1−p)/V and Clopper–Pearson becomes Korn–Graubard;
    `korn-graubard` applies to item proportions, `logit` to every measure bounded in [0, 1] (items,
    elements, overall); every other measure, and `taylor`, use the Taylor t interval.
    `bootstrap`: arrays D × M `ci_low`, `ci_high` (and optionally `se`) computed by analysis.bootstrap;
    required when ci='bootstrap'.
    """
    if ci not in CI_METHODS:
        raise ValueError(f"unknown interval method {ci!r}; choose one of {', '.join(CI_METHODS)}")
    d_count, m_count = est.estimate.shape
    p = est.estimate
    se = est.se
    df = est.df.astype(np.float64)
    is_item = np.array([m.kind == "item" for m in est.measures])[None, :].repeat(d_count, axis=0)
    method = np.full((d_count, m_count), "taylor", dtype=object)
    lo, hi = intervals.t_interval(p, se, df, level)
    reasons = np.full((d_count, m_count), "", dtype=object)

    if ci == "bootstrap":
        if bootstrap is None:
            raise ValueError("ci='bootstrap' needs the bootstrap intervals")
        lo, hi = np.asarray(bootstrap["ci_low"]), np.asarray(bootstrap["ci_high"])
        if "se" in bootstrap:
            se = np.asarray(bootstrap["se"])
        method[:] = "bootstrap"
    elif ci != "taylor":
        n = est.n.astype(np.float64)
        var = est.variance
        if ci == "wilson" and est.is_srs:
            plo, phi = intervals.wilson(p * n, n, level)
            pm = "wilson"
        elif ci == "wilson":
            with np.errstate(invalid="ignore", divide="ignore"):
                informative = (var > 0) & (p > 0) & (p < 1)
                n_star = np.where(informative, p * (1 - p) / np.where(var > 0, var, 1.0), n)
            plo, phi = intervals.wilson(p * n_star, n_star, level)
            pm = "wilson-design"
        elif ci == "clopper-pearson" and est.is_srs:
            plo, phi = intervals.clopper_pearson(np.rint(p * n), n, level)
            pm = "clopper-pearson"
        elif ci == "logit":
            plo, phi = intervals.logit_interval(p, se, df, level)
            pm = "logit"
        else:  # korn-graubard, or clopper-pearson under a design
            plo, phi, _ = intervals.korn_graubard(p, var, n, df, level)
            pm = "korn-graubard"
        if pm == "logit":
            # Element and overall indices are convex combinations of proportions, so they live in [0, 1]
            # too: the logit (delta-method) interval keeps them there, where a Taylor t interval with few
            # clusters runs past 0% or 100%.  Undefined at p ∈ {0, 1}: Korn–Graubard for items there,
            # the Taylor interval for composites, and the method column says which.
            bounded = np.array([m.kind in UNIT_KINDS for m in est.measures])[None, :].repeat(d_count, axis=0)
            inside = bounded & (p > 0) & (p < 1) & (se > 0)
            lo, hi = np.where(inside, plo, lo), np.where(inside, phi, hi)
            method[inside] = "logit"
            edge = is_item & ~inside
            klo, khi, _ = intervals.korn_graubard(p, var, n, df, level)
            lo, hi = np.where(edge, klo, lo), np.where(edge, khi, hi)
            method[edge] = "korn-graubard"
        else:
            lo, hi = np.where(is_item, plo, lo), np.where(is_item, phi, hi)
            method[is_item] = pm

    # undefined variance under a design (one cluster): no interval, documented reason
    srs_row = est.is_srs & np.isin(method, ["wilson", "clopper-pearson"])
    no_var = (df <= 0) & ~srs_row & est.answered
    se = np.where(no_var, np.nan, se)
    lo, hi = np.where(no_var, np.nan, lo), np.where(no_var, np.nan, hi)
    reasons = _add_reason(reasons, no_var, "df_zero")
    reasons = _add_reason(reasons, ~est.answered, "no_answers")
    small = est.answered & (est.n < n_min)
    reasons = _add_reason(reasons, small, "n_below_min")
    suppressed = ~est.answered | small
    unit = np.array([m.kind in UNIT_KINDS for m in est.measures])[None, :]
    with np.errstate(invalid="ignore"):
        wide = unit & ((hi - lo) / 2 > max_halfwidth)

    by_label, domains = domain_labels(est)
    out = pd.DataFrame(
        {
            "by": by_label,
            "domain": np.repeat(np.asarray(domains, dtype=object), m_count),
            "measure": np.tile(np.asarray([m.code for m in est.measures], dtype=object), d_count),
            "estimate": p.ravel(),
            "se": np.asarray(se, dtype=np.float64).ravel(),
            "ci_low": np.asarray(lo, dtype=np.float64).ravel(),
            "ci_high": np.asarray(hi, dtype=np.float64).ravel(),
            "n": est.n.ravel(),
            "n_eff": est.n_eff.ravel(),
            "df": est.df.ravel(),
            "method": method.ravel(),
            "suppressed": suppressed.ravel(),
            "reason": reasons.ravel(),
            "wide_ci": wide.ravel(),
        }
    )
    return out


def blank_suppressed(table: pd.DataFrame) -> pd.DataFrame:
    """Copy with estimate, se and CI emptied on suppressed rows: what is published (CLI output)."""
    out = table.copy()
    out.loc[out["suppressed"], ["estimate", "se", "ci_low", "ci_high"]] = np.nan
    return out


def _add_reason(reasons: np.ndarray, mask: np.ndarray, reason: str) -> np.ndarray:
    mask = np.broadcast_to(mask, reasons.shape)
    out = reasons.copy()
    for idx in zip(*np.nonzero(mask), strict=True):
        out[idx] = f"{out[idx]};{reason}" if out[idx] else reason
    return out
