"""Honest comparisons inside one design (methodology §4): differences with their own CI and test.

A difference between two domains (two agencies, two quarters, kiosk vs QR) is estimated with the
Taylor score of the difference, z_diff = z_A − z_B per cluster, in the whole design: clusters shared
by both domains (a service point serving both periods) carry the covariance, so the SE is neither
the naive √(SE_A² + SE_B²) nor the overlap of two intervals.  The same trick compares each unit with
the whole population (z_unit − z_all), and Holm's adjustment controls the chance of any false
"differs from the city" among all units; period-to-period changes of many units are screened with
Benjamini–Hochberg (false discovery rate), which tolerates a few false alarms to miss fewer changes.

Every difference is one `analysis.estimate.contrast_estimates` call, so the same code serves cluster
totals and unit-level moments (respondents as the sampled units, service points as strata: R
`svydesign(ids=~1, strata=~service_point)`), where a contrast's Σz² per (stratum, cell) row is a
quadratic form in the row's Gram matrix.

Tests are t tests with design degrees of freedom: clusters with an answer in either domain − strata
among them (as `estimate` does for one domain; in unit mode clusters are the respondents answering
the measure's most answered item).  Comparisons involving a suppressed domain (n < n_min
or no answers) are listed with `suppressed` True and are left out of the adjustment families; an
undefined variance (df ≤ 0, or both sides without variation) gives no test and says why in `reason`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.estimate import ContrastEstimates, DomainEstimates, contrast_estimates, estimate
from analysis.multiple import benjamini_hochberg, holm
from analysis.result import domain_labels
from analysis.totals import ClusterTotals
from questionnaires.index_spec import Measure

__all__ = ["compare_domain_to_whole", "compare_domains", "compare_to_whole", "screen_changes"]


@dataclass(frozen=True, eq=False)
class _Domains:
    """Estimates and result-table labels of the cells of one breakdown."""

    est: DomainEstimates
    labels: list[str]


def _domains(totals: ClusterTotals, measures: tuple[Measure, ...], by: Sequence[str]) -> _Domains:
    est = estimate(totals, measures, tuple(by))
    return _Domains(est, domain_labels(est)[1])


def _differences(totals: ClusterTotals, measures: tuple[Measure, ...], by: Sequence[str],
                 pairs: Sequence[tuple[int, int]], *, whole: bool = False) -> ContrastEstimates:
    """Contrasts cell a − cell b of `by` for every pair (a, b); index len(cells) = the whole population
    when `whole`.  One `contrast_estimates` call, for cluster totals and unit-level moments alike."""
    n_cells = len(totals.collapse(tuple(by)).cells)
    masks = np.eye(n_cells, dtype=bool)
    if whole:
        masks = np.vstack([masks, np.ones((1, n_cells), dtype=bool)])
    coef = np.zeros((len(pairs), len(masks)))
    for k, (a, b) in enumerate(pairs):
        coef[k, a] += 1.0
        coef[k, b] -= 1.0
    return contrast_estimates(totals, measures, by, masks, coef)


def _test(diff: np.ndarray, var: np.ndarray, df: np.ndarray, level: float) -> dict[str, np.ndarray]:
    se = np.sqrt(np.maximum(var, 0.0))
    ok = (df > 0) & (se > 0) & np.isfinite(diff)
    safe_df = np.where(ok, df, 1.0)
    q = stats.t.ppf(0.5 + level / 2, safe_df)
    with np.errstate(invalid="ignore", divide="ignore"):
        tstat = np.where(ok, diff / np.where(ok, se, 1.0), np.nan)
    p = np.where(ok, 2 * stats.t.sf(np.abs(tstat), safe_df), np.nan)
    reason = np.where(df <= 0, "df_zero", np.where(ok | ~np.isfinite(diff), "", "no_variance"))
    return {"se": np.where(np.isfinite(diff) & (df > 0), se, np.nan),
            "ci_low": np.where(ok, diff - q * se, np.nan), "ci_high": np.where(ok, diff + q * se, np.nan),
            "df": df.astype(np.int64), "t": tstat, "p_value": p, "reason": reason}


def _pair(a: DomainEstimates, ia: int | np.ndarray, b: DomainEstimates, ib: int | np.ndarray, con: ContrastEstimates,
          k: int | np.ndarray,
          n_min: int, level: float) -> dict[str, np.ndarray]:
    """Difference a[ia] − b[ib] for every measure, with its Taylor test (contrast k of `con`)."""
    diff = a.estimate[ia] - b.estimate[ib]
    res = _test(diff, con.variance[k], con.df[k], level)
    na, nb = a.n[ia], b.n[ib]
    sup = ~a.answered[ia] | ~b.answered[ib] | (na < n_min) | (nb < n_min)
    res["reason"] = np.where(sup, np.where(res["reason"] == "", "suppressed", res["reason"] + ";suppressed"),
                             res["reason"])
    res.update(difference=diff, estimate_a=a.estimate[ia], estimate_b=b.estimate[ib],
               n_a=na, n_b=nb, suppressed=sup)
    return res


def _index(dom: _Domains, label: str, what: str) -> int:
    try:
        return dom.labels.index(str(label))
    except ValueError:
        shown = ", ".join(dom.labels[:10])
        raise KeyError(f"{what} {label!r} is not a domain of {':'.join(dom.est.by)} (have: {shown})") from None


def compare_domains(totals: ClusterTotals, measures: Sequence[Measure], by: Sequence[str], a: str, b: str,
                    *, n_min: int = 30, level: float = 0.95) -> pd.DataFrame:
    """Difference a − b of every measure between two domains of `by` (labels as in result tables,
    `A1` or `A1:2022-Q3` for several columns).  Columns: by, domain_a, domain_b, measure, estimate_a,
    estimate_b, difference, se, ci_low, ci_high, df, t, p_value, n_a, n_b, method, suppressed, reason."""
    measures = tuple(measures)
    totals = totals.collapse(tuple(by))  # once: collapsing unit moments (Gram matrices) is not free
    dom = _domains(totals, measures, by)
    ia, ib = _index(dom, a, "domain"), _index(dom, b, "domain")
    r = _pair(dom.est, ia, dom.est, ib, _differences(totals, measures, by, [(ia, ib)]), 0, n_min, level)
    out = pd.DataFrame({"by": ":".join(by), "domain_a": str(a), "domain_b": str(b),
                        "measure": [m.code for m in measures]})
    for c in ("estimate_a", "estimate_b", "difference", "se", "ci_low", "ci_high", "df", "t", "p_value",
              "n_a", "n_b"):
        out[c] = r[c]
    out["method"] = "taylor"
    out["suppressed"] = r["suppressed"]
    out["reason"] = r["reason"]
    return out


def compare_to_whole(totals: ClusterTotals, measures: Sequence[Measure], by: Sequence[str], *,
                     n_min: int = 30, level: float = 0.95, alpha: float = 0.05) -> pd.DataFrame:
    """Every domain of `by` against the whole population, Holm-adjusted within each measure.

    Columns: by, domain, measure, estimate, overall, difference, se, ci_low, ci_high, df, t, p_value,
    p_holm, differs (p_holm < alpha), n, suppressed, reason.  The CI is unadjusted (per comparison).
    """
    measures = tuple(measures)
    totals = totals.collapse(tuple(by))
    dom = _domains(totals, measures, by)
    whole = _domains(totals, measures, ())
    n_dom = len(dom.labels)
    con = _differences(totals, measures, by, [(d, n_dom) for d in range(n_dom)], whole=True)
    pairs = [_pair(dom.est, d, whole.est, 0, con, d, n_min, level) for d in range(n_dom)]
    columns = {"estimate": "estimate_a", "overall": "estimate_b", "difference": "difference", "se": "se",
               "ci_low": "ci_low", "ci_high": "ci_high", "df": "df", "t": "t", "p_value": "p_value",
               "n": "n_a", "suppressed": "suppressed", "reason": "reason"}
    out = pd.DataFrame({"by": ":".join(by), "domain": np.repeat(dom.labels, len(measures)),
                        "measure": [m.code for m in measures] * n_dom,
                        **{c: np.concatenate([r[k] for r in pairs]) for c, k in columns.items()}})
    tested = out["p_value"].where(~out["suppressed"])
    out["p_holm"] = np.nan
    for _, idx in out.groupby("measure", sort=False).groups.items():
        out.loc[idx, "p_holm"] = holm(tested.loc[idx].to_numpy())
    out["differs"] = out["p_holm"] < alpha
    cols = ["by", "domain", "measure", "estimate", "overall", "difference", "se", "ci_low", "ci_high", "df",
            "t", "p_value", "p_holm", "differs", "n", "suppressed", "reason"]
    return out[cols]


def compare_domain_to_whole(totals: ClusterTotals, measures: Sequence[Measure], by: Sequence[str], domain: str,
                            *, n_min: int = 30, level: float = 0.95) -> pd.DataFrame:
    """One domain of `by` against the whole population (`compare_to_whole` for one row, without the cost of
    every other domain's contrast and without an adjustment family): the same Taylor difference, df, t
    interval and p-value.  Columns: by, domain, measure, estimate, overall, difference, se, ci_low, ci_high,
    df, t, p_value, n, suppressed, reason."""
    measures = tuple(measures)
    totals = totals.collapse(tuple(by))
    dom = _domains(totals, measures, by)
    whole = _domains(totals, measures, ())
    d = _index(dom, domain, "domain")
    con = _differences(totals, measures, by, [(d, len(dom.labels))], whole=True)
    r = _pair(dom.est, d, whole.est, 0, con, 0, n_min, level)
    out = pd.DataFrame({"by": ":".join(by), "domain": str(domain), "measure": [m.code for m in measures]})
    for c, k in (("estimate", "estimate_a"), ("overall", "estimate_b"), ("difference", "difference"),
                 ("se", "se"), ("ci_low", "ci_low"), ("ci_high", "ci_high"), ("df", "df"), ("t", "t"),
                 ("p_value", "p_value"), ("n", "n_a"), ("suppressed", "suppressed"), ("reason", "reason")):
        out[c] = r[k]
    return out


def screen_changes(totals: ClusterTotals, measures: Sequence[Measure], unit: str, period: str,
                   before: str, after: str, *, n_min: int = 30, level: float = 0.95,
                   fdr: float = 0.05) -> pd.DataFrame:
    """Change after − before of every measure for every unit, Benjamini–Hochberg within each measure.

    `unit` and `period` are domain columns of `totals` (e.g. agency and quarter); the change is
    estimated in the (unit × period) cross-classification of the one design.  Columns: by, domain,
    measure, before, after, estimate_before, estimate_after, change, se, ci_low, ci_high, df, t,
    p_value, p_bh, flagged (p_bh < fdr), n_before, n_after, suppressed, reason.  A unit observed in
    only one of the periods is listed as suppressed with reason `period_missing`.
    """
    measures = tuple(measures)
    totals = totals.collapse((unit, period))
    dom = _domains(totals, measures, (unit, period))
    cells = dom.est.cells.astype(str)
    lookup = {(u, p): i for i, (u, p) in enumerate(zip(cells[unit], cells[period], strict=True))}
    periods = set(cells[period])
    for p in (before, after):
        if str(p) not in periods:
            raise KeyError(f"period {p!r} is not a value of {period} (have: {', '.join(sorted(periods))})")
    codes = [m.code for m in measures]
    units = sorted(set(cells[unit]))
    pairs = [(lookup[(u, str(after))], lookup[(u, str(before))]) for u in units
             if (u, str(after)) in lookup and (u, str(before)) in lookup]
    con = _differences(totals, measures, (unit, period), pairs)
    k_of = {pair: k for k, pair in enumerate(pairs)}
    # every pair tested at once (elementwise: the same numbers as one unit at a time); the table is built
    # from whole columns, one DataFrame at the end (per-unit frames cost more than the statistics)
    if pairs:
        ia_all, ib_all = np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])
        r = _pair(dom.est, ia_all, dom.est, ib_all, con, np.arange(len(pairs)), n_min, level)
    if not units:
        pd.concat([], ignore_index=True)  # no unit at all: the error the per-unit table gave
    n_m = len(codes)
    columns: dict[str, list[np.ndarray]] = {c: [] for c in (
        "by", "domain", "measure", "before", "after", "estimate_before", "estimate_after", "change", "se",
        "ci_low", "ci_high", "df", "t", "p_value", "n_before", "n_after", "suppressed", "reason")}
    nan, zero = np.full(n_m, np.nan), np.zeros(n_m, dtype=np.int64)
    for u in units:
        ib, ia = lookup.get((u, str(before))), lookup.get((u, str(after)))
        for c, v in (("by", unit), ("domain", u), ("before", str(before)), ("after", str(after))):
            columns[c].append(np.full(n_m, v, dtype=object))
        columns["measure"].append(np.array(codes, dtype=object))
        if ia is None or ib is None:
            i = ia if ia is not None else ib
            for c in ("change", "se", "ci_low", "ci_high", "t", "p_value"):
                columns[c].append(nan)
            columns["estimate_after"].append(dom.est.estimate[i] if ia is not None else nan)
            columns["estimate_before"].append(nan if ia is not None else dom.est.estimate[i])
            columns["df"].append(zero)
            columns["n_after"].append(dom.est.n[i] if ia is not None else zero)
            columns["n_before"].append(zero if ia is not None else dom.est.n[i])
            columns["suppressed"].append(np.ones(n_m, dtype=bool))
            columns["reason"].append(np.full(n_m, "period_missing", dtype=object))
        else:
            k = k_of[(ia, ib)]
            for c, key in (("estimate_before", "estimate_b"), ("estimate_after", "estimate_a"),
                           ("change", "difference"), ("se", "se"), ("ci_low", "ci_low"), ("ci_high", "ci_high"),
                           ("df", "df"), ("t", "t"), ("p_value", "p_value"), ("n_before", "n_b"),
                           ("n_after", "n_a"), ("suppressed", "suppressed")):
                columns[c].append(r[key][k])
            columns["reason"].append(r["reason"][k].astype(object))
    out = pd.DataFrame({c: np.concatenate(v) for c, v in columns.items()})
    tested = out["p_value"].where(~out["suppressed"])
    out["p_bh"] = np.nan
    for _, idx in out.groupby("measure", sort=False).groups.items():
        out.loc[idx, "p_bh"] = benjamini_hochberg(tested.loc[idx].to_numpy())
    out["flagged"] = out["p_bh"] < fdr
    cols = ["by", "domain", "measure", "before", "after", "estimate_before", "estimate_after", "change", "se",
            "ci_low", "ci_high", "df", "t", "p_value", "p_bh", "flagged", "n_before", "n_after", "suppressed",
            "reason"]
    return out[cols]
