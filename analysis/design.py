"""`Design`: the checked survey design object, built once, as R's `svydesign` (then estimators).

It wraps `ClusterTotals` (the design's sufficient statistics) with the questionnaire's index
definition, so callers write

    design = Design.from_responses(df, spec, domains=("agency",), weights="weight",
                                   strata="district", cluster="service_point")
    table = design.indices(by=("agency",), ci="korn-graubard")

and get the tidy result table of `analysis.result`.  The three constructors (respondent rows, an
exchange file streamed from disk, the web app's GROUP BY totals) give the same object, so every
estimator below is the same code whatever the source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.estimate import DomainEstimates, estimate
from analysis.result import result_table
from analysis.totals import ClusterTotals, totals_from_frame, totals_from_responses
from questionnaires.index_spec import IndexSpec

#: the lonely-cluster rules implemented (R survey's names); see analysis/estimate.py
LONELY_RULES: tuple[str, ...] = ("adjust",)

#: period domain columns, coarsest first: the first one a domain has splits the strata (`period_split`)
PERIOD_SPLITS: tuple[str, ...] = ("year", "quarter", "month")
STRATUM_SEP = "\x1f"  # between a stratum's label and its period (`by_period`)


# --------------------------------------------------------------------------- one period, one interval
def period_split(by: Sequence[str]) -> str | None:
    """The period column whose periods split the strata of a design estimated by `by`, or None.

    A figure published per period (a month, a quarter) is estimated in that period's design: n_h = the
    respondents of each stratum IN the period, centred on the period's own mean.  Estimating several periods
    together therefore uses strata = stratum × period (docs/methodology-design.md, "One period, one
    interval"), which gives each period the estimate, variance and df of the period alone.  With several period
    columns the coarsest splits (the finer ones are domains within it)."""
    return next((col for col in PERIOD_SPLITS if col in by), None)


def by_period(label: Any, period: Any) -> Any:
    """A stratum (or cluster) label within one period: `label` + US + `period` (strings or pandas Series).
    The unit separator sorts before every printable character, so within one period the labels sort as
    `label` alone does — the order a period's own design sums its strata in (equal to the last bit)."""
    return label + STRATUM_SEP + period


def totals_split_by_period(totals: ClusterTotals) -> bool:
    """Whether the strata of `totals` were split by period (labels made by `by_period`)."""
    return any(isinstance(s, str) and STRATUM_SEP in s for s in totals.strata)


def merge_period_strata(totals: ClusterTotals) -> ClusterTotals:
    """The same totals with the period split of the strata undone (labels made by `by_period`).

    The whole population over several periods is estimated in the design of the whole span (strata = the
    strata alone), as `indices` without a period would; a stratum × period's clusters and respondents are
    summed back into its stratum.  Rows keep their domain cells, so the result collapses like any totals."""
    if totals.unit is not None and totals.unit.gram is None:
        raise ValueError("totals with per-cell Gram sums cannot be merged back into whole-span strata")
    original = pd.Index([str(s).rsplit(STRATUM_SEP, 1)[0] for s in totals.strata])
    row_stratum = original[totals.cluster_stratum[totals.row_cluster]]
    keys = pd.DataFrame({"stratum": row_stratum})
    clusters = pd.DataFrame({"stratum": original[totals.cluster_stratum],
                             "cluster": totals.clusters["cluster"].to_numpy()})
    if totals.unit is not None:
        keys["cluster"] = row_stratum  # one pseudo cluster per stratum
        clusters["cluster"] = clusters["stratum"]
    else:
        keys["cluster"] = clusters["cluster"].to_numpy()[totals.row_cluster]
    cells = totals.cells.iloc[totals.row_cell].reset_index(drop=True)
    for col in totals.domain_columns:
        keys[col] = cells[col].to_numpy()
    if totals.unit is None:
        return ClusterTotals.from_wide(keys, totals.stats, totals.items, totals.domain_columns, design=clusters,
                                       weighted=totals.weighted)
    counts: dict[Any, int] = {}
    for label, n in zip(original, totals.unit.n_h.tolist(), strict=True):
        counts[label] = counts.get(label, 0) + int(n)
    return ClusterTotals.from_wide(
        keys, totals.stats, totals.items, totals.domain_columns, weighted=totals.weighted,
        unit_gram=totals.unit.gram, unit_counts=counts,
        unit_row_counts=None if totals.unit.row_n is None else np.asarray(totals.unit.row_n),
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class Design:
    """Sufficient statistics of a survey design plus the index definition to estimate with."""

    spec: IndexSpec
    totals: ClusterTotals
    lonely: str = "adjust"

    def __post_init__(self) -> None:
        if self.lonely not in LONELY_RULES:
            raise ValueError(f"lonely-cluster rule {self.lonely!r} not implemented (have: {', '.join(LONELY_RULES)})")

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_responses(
        cls,
        data: pd.DataFrame,
        spec: IndexSpec,
        *,
        domains: Sequence[str] = (),
        weights: str | None = None,
        strata: str | None = None,
        cluster: str | None = None,
        lonely: str = "adjust",
    ) -> Design:
        """From respondent rows in the exchange format; `domains` = every column you will estimate by."""
        totals = totals_from_responses(data, spec, domains, weights=weights, strata=strata, cluster=cluster)
        return cls(spec, totals, lonely)

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        spec: IndexSpec,
        *,
        domains: Sequence[str] = (),
        weights: str | None = None,
        strata: str | None = None,
        cluster: str | None = None,
        lonely: str = "adjust",
    ) -> Design:
        """From a .csv/.parquet exchange file, streamed and validated (raises analysis.data.DataError)."""
        from analysis.data import DesignColumns, read_totals

        cols = DesignColumns(by=tuple(domains), weights=weights, strata=strata, cluster=cluster)
        return cls(spec, read_totals(path, spec, cols), lonely)

    @classmethod
    def from_totals(
        cls,
        frame: pd.DataFrame,
        spec: IndexSpec,
        *,
        domains: Sequence[str] = (),
        clusters: pd.DataFrame | None = None,
        weighted: bool | None = None,
        lonely: str = "adjust",
    ) -> Design:
        """From the long totals table of docs/contracts.md §5 (a database GROUP BY)."""
        return cls(spec, totals_from_frame(frame, spec, domains, design=clusters, weighted=weighted), lonely)

    # ----------------------------------------------------------------- description
    @property
    def degf(self) -> int:
        """Design degrees of freedom, R's `degf`: clusters − strata."""
        return self.totals.n_clusters - self.totals.n_strata

    @property
    def domains(self) -> tuple[str, ...]:
        return self.totals.domain_columns

    # ----------------------------------------------------------------- estimators
    def estimate(self, by: Sequence[str] = ()) -> DomainEstimates:
        """Estimates, Taylor variances, n, n_eff and df of every measure in every cell of `by`."""
        return estimate(self.totals, self.spec.measures, by)

    def indices(
        self,
        by: Sequence[str] = (),
        ci: str = "wilson",
        *,
        level: float = 0.95,
        n_min: int | None = None,
        max_halfwidth: float = 0.10,
        replicates: int = 1000,
        seed: int | None = 1,
    ) -> pd.DataFrame:
        """The result table for the cells of `by` (`()` = whole population); see analysis.result."""
        by = tuple(by)
        boot = None
        if ci == "bootstrap":
            from analysis.bootstrap import bootstrap_intervals

            boot = bootstrap_intervals(
                self.totals, self.spec.measures, by=by, replicates=replicates, seed=seed, level=level
            )
        return result_table(
            self.estimate(by), ci, level=level, n_min=self.spec.n_min if n_min is None else n_min,
            max_halfwidth=max_halfwidth, bootstrap=boot,
        )  # fmt: skip
