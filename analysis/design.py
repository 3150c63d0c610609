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

import pandas as pd

from analysis.estimate import DomainEstimates, estimate
from analysis.result import result_table
from analysis.totals import ClusterTotals, totals_from_frame, totals_from_responses
from questionnaires.index_spec import IndexSpec

#: the lonely-cluster rules implemented (R survey's names); see analysis/estimate.py
LONELY_RULES: tuple[str, ...] = ("adjust",)


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
