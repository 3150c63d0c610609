"""Design-based satisfaction indices: pure statistics on pandas/NumPy/SciPy (no Flask, no SQL).

Shape follows R `survey`: per-cluster sufficient statistics (`ClusterTotals`, built from respondent
rows or from a database GROUP BY), then estimators returning tidy result tables.  See README.md.
"""

from analysis.design import Design
from analysis.estimate import (
    ContrastEstimates,
    DomainEstimates,
    cluster_variance,
    contrast_estimates,
    domain_cluster_scores,
    estimate,
    linearised_scores,
    replicate_estimates,
)
from analysis.totals import ClusterTotals, totals_from_frame, totals_from_responses

__all__ = [
    "ClusterTotals",
    "ContrastEstimates",
    "Design",
    "DomainEstimates",
    "cluster_variance",
    "contrast_estimates",
    "domain_cluster_scores",
    "estimate",
    "linearised_scores",
    "replicate_estimates",
    "totals_from_frame",
    "totals_from_responses",
]
