"""Indices with their intervals, and the comparison of a unit with the whole city, from the analysis package.

Every number here is computed by `analysis` (estimate → result_table; contrasts with domain_cluster_scores /
cluster_variance inside one design).  This module only chooses inputs and attaches titles; the web layer only
formats the resulting tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from analysis.compare import compare_domain_to_whole
from analysis.disclosure import secondary_suppression
from analysis.estimate import estimate
from analysis.funnel import design_n_eff
from analysis.result import COLUMNS, EXTRA_COLUMNS, result_table
from analysis.totals import ClusterTotals
from survey.results.cache import cached
from survey.results.design import current_design
from survey.results.selection import Selection
from survey.results.totals import Instrument, cluster_totals, instrument, normalise_domain, tally_rows

#: Satisfaction shares and indices live in [0, 1]: the logit-transformed Taylor interval keeps them there
#: (a plain t interval with few service points per district ran to −16%…177% on the demo); measures on other
#: scales (mean scores, PAPI) keep the Taylor t interval.  analysis.result.result_table decides per row.
DEFAULT_CI = "logit"
COMPARE_COLUMNS = ("measure", "estimate", "reference", "difference", "se", "ci_low", "ci_high", "df", "p_value",
                   "n", "suppressed")


@dataclass(frozen=True)
class IndexResult:
    """analysis' result table (columns of analysis.result plus kind, title_vi, title_en) and how it was made."""

    table: pd.DataFrame
    instrument: Instrument
    domain: tuple[str, ...]
    weights: str
    ci: str
    n_min: int
    level: float = 0.95
    meta: dict[str, Any] = field(default_factory=dict)

    def rows(self, domain_value: str | None = None) -> pd.DataFrame:
        """Rows of one domain cell (its label as in the `domain` column; None = the only/"all" cell)."""
        if domain_value is None:
            return self.table
        return self.table[self.table["domain"] == domain_value]

    def method_note(self, lang: str) -> dict[str, Any]:
        """What every published figure carries: instrument and version, CI method, n_min, weights."""
        rec = self.instrument.record
        return {"instrument": rec.instrument, "version": rec.version, "title": rec.title(lang),
                "basis": self.instrument.questionnaire.basis, "ci": self.ci, "level": self.level,
                "n_min": self.n_min, "weights": self.weights, "method": self.instrument.spec.meta.get("method"),
                "design": self.meta.get("design", current_design())}


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame(columns=[*COLUMNS, *EXTRA_COLUMNS, "kind", "title_vi", "title_en", "n_eff_design"])


def _with_design_n_eff(table: pd.DataFrame) -> pd.DataFrame:
    """Adds `n_eff_design` (analysis.funnel.design_n_eff: p(1−p)/V, the n_eff every page shows and the funnel
    limits use) on 0–1 measures; other measures keep Kish's n_eff."""
    unit = table["kind"].isin(("item", "element", "overall")).to_numpy()
    kish = table["n_eff"].to_numpy(dtype=float)
    design = design_n_eff(table["estimate"].to_numpy(dtype=float), table["se"].to_numpy(dtype=float), kish)
    table["n_eff_design"] = np.where(unit, design, kish)
    return table


def _titled(table: pd.DataFrame, inst: Instrument) -> pd.DataFrame:
    by_code = {m.code: m for m in inst.spec.measures}
    table = table.copy()
    table["kind"] = table["measure"].map(lambda c: by_code[c].kind)
    table["title_vi"] = table["measure"].map(lambda c: by_code[c].title_vi)
    table["title_en"] = table["measure"].map(lambda c: by_code[c].title_en)
    return table


def _has_rows(t: ClusterTotals) -> bool:
    return len(t.row_cluster) > 0


def indices(session: Session, sel: Selection, *, domain: str | tuple[str, ...] | None = (), weights: str = "none",
            ci: str = DEFAULT_CI, n_min: int | None = None, level: float = 0.95,
            design: str | None = None) -> IndexResult:
    """Every measure of the questionnaire (items, item means, elements, overall, PAPI) in every domain cell.

    n_min defaults to the app's HAILONG_N_MIN (30).  Suppressed rows keep their estimate in the table (the
    web layer shows "not enough responses (n = …)" instead); see analysis/result.py for the reasons.
    """
    n_min = _n_min(n_min)
    dom = normalise_domain(session, domain)
    design = current_design(design)
    return cached(session, ("indices", sel.key(), dom, weights, volume_version(session, weights), ci, n_min, level,
                            design),
                  lambda: _indices(session, sel, dom, weights, ci, n_min, level, design))


def _indices(session: Session, sel: Selection, dom: tuple[str, ...], weights: str, ci: str, n_min: int,
             level: float, design: str) -> IndexResult:
    inst = instrument(session, sel)
    try:
        totals = cluster_totals(session, sel, domain=dom, weights=weights, inst=inst, design=design)
    except ValueError:  # analysis cannot build totals from nothing: no answer in the selection
        totals = None
    if totals is None or not _has_rows(totals):
        return IndexResult(_empty_table(), inst, dom, weights, ci, n_min, level, meta={"design": design})
    est = estimate(totals, inst.spec.measures, dom)
    table = result_table(est, ci, level=level, n_min=n_min)
    return IndexResult(_with_design_n_eff(_titled(table, inst)), inst, dom, weights, ci, n_min, level,
                       meta={"clusters": totals.n_clusters, "strata": totals.n_strata, "design": design})


def hidden_beside_total(n: list[int], suppressed: list[bool], n_min: int | None = None) -> list[bool]:
    """Which rows to hide beside a total over all of them that stays: analysis.disclosure.secondary_suppression
    (the suppressed rows, plus the smallest shown ones when the total minus the shown rows would give a
    suppressed figure away; docs/methodology-design.md, "Totals beside suppressed rows")."""
    return secondary_suppression(n, suppressed, _n_min(n_min))


def volume_version(session: Session, weights: str) -> tuple[Any, ...] | None:
    """Weighted results also depend on service volumes, which change without a new response."""
    if weights != "volume":
        return None
    from sqlalchemy import func, select

    from survey.org.models import ServiceVolume

    return tuple(session.execute(select(func.count(), func.sum(ServiceVolume.dossiers), func.max(ServiceVolume.id),
                                        func.max(ServiceVolume.updated_at))).one())


def _n_min(n_min: int | None) -> int:
    if n_min is not None:
        return n_min
    try:
        from flask import current_app

        return int(current_app.config["HAILONG_N_MIN"])
    except (RuntimeError, KeyError):
        return 30


@dataclass(frozen=True)
class Comparison:
    """A unit (domain cell) against the whole selection, both estimated in ONE design (with covariance)."""

    table: pd.DataFrame  # COMPARE_COLUMNS (+ kind, title_vi, title_en)
    instrument: Instrument
    unit_column: str
    unit_value: str
    ci: str = DEFAULT_CI
    level: float = 0.95


def compare_with_whole(session: Session, sel: Selection, *, unit_column: str, unit_value: str, weights: str = "none",
                       n_min: int | None = None, level: float = 0.95, design: str | None = None) -> Comparison:
    """unit − whole for every measure: analysis.compare.compare_domain_to_whole (one Taylor contrast in one
    design, t interval on the contrast's df, two-sided p-value — the figures `analysis.compare` gives).
    `sel` should be the whole (city) selection, e.g. `sel.whole()`; the whole's figure is published to every
    viewer, the unit must be one the caller may see.
    """
    n_min = _n_min(n_min)
    dom = normalise_domain(session, unit_column)
    design = current_design(design)
    return cached(session, ("compare", sel.key(), dom, unit_value, weights, volume_version(session, weights), n_min,
                            level, design),
                  lambda: _compare(session, sel, dom[0], unit_value, weights, n_min, level, design))


def _compare(session: Session, sel: Selection, col: str, value: str, weights: str, n_min: int,
             level: float, design: str) -> Comparison:
    inst = instrument(session, sel)
    cols = [*COMPARE_COLUMNS, "kind", "title_vi", "title_en"]
    try:
        totals = cluster_totals(session, sel, domain=(col,), weights=weights, inst=inst, design=design)
    except ValueError:
        totals = None
    if totals is None or not _has_rows(totals) or value not in set(totals.cells[col]):
        return Comparison(pd.DataFrame(columns=cols), inst, col, value, level=level)
    # one contrast (unit − whole) in one design, by analysis.compare: the same df, interval and test as
    # `python -m analysis compare` and the Home Affairs pages
    res = compare_domain_to_whole(totals, inst.spec.measures, (col,), value, n_min=n_min, level=level)
    table = pd.DataFrame({"measure": res["measure"], "estimate": res["estimate"], "reference": res["overall"],
                          "difference": res["difference"], "se": res["se"], "ci_low": res["ci_low"],
                          "ci_high": res["ci_high"], "df": res["df"], "p_value": res["p_value"], "n": res["n"],
                          "suppressed": res["suppressed"].astype(bool) | res["difference"].isna()})
    return Comparison(_titled(table, inst), inst, col, value, level=level)


def answer_counts(session: Session, sel: Selection) -> pd.DataFrame:
    """Counts per item × value (every item type; value 0 = no opinion) — the raw material of distributions."""
    inst = instrument(session, sel)
    rows = tally_rows(session, sel, [], by_period=False, by_channel=False, scored_only=False)
    if rows.empty:
        return pd.DataFrame(columns=["item", "value", "count"])
    rows["item"] = rows["item_id"].map(inst.item_codes)
    out = rows.groupby(["item", "value"])["count"].sum().reset_index()
    return out.astype({"value": int, "count": int})


