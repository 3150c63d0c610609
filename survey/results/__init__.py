"""Turning stored responses into analysis inputs (SQL GROUP BY over the count tables) and analysis results.

Public API (used by the agency and Home Affairs dashboards, exports and reports):

- `Selection.of(qv_ids, period_from=, period_to=, channels=, service_point_ids=, agency_ids=, unit_id=,
  visible_agency_ids=)` — the filters and the viewer's scope (applied in SQL).
- `cluster_totals(session, sel, domain=, weights='none'|'volume')` → analysis.ClusterTotals
  (strata = unit one level below the root, clusters = service points; see results/totals.py).
- `indices(session, sel, domain=, weights=, ci='logit', n_min=None)` → IndexResult (analysis' result table
  with measure titles, plus the method note).
- `compare_with_whole(session, sel.whole(), unit_column='agency', unit_value=CODE)` → Comparison
  (unit − whole with CI and p-value, one design).
- `distributions(session, sel, lang)` → answer counts per level (incl. no opinion) and expectations;
  `response_count(session, sel)`.
"""

from survey.results.distributions import Distributions, distributions, response_count
from survey.results.indices import (
    COMPARE_COLUMNS,
    Comparison,
    IndexResult,
    answer_counts,
    compare_with_whole,
    indices,
)
from survey.results.selection import Selection, allowed_service_points
from survey.results.totals import (
    FIXED_DOMAINS,
    PERIOD_DOMAINS,
    Instrument,
    SelectionError,
    cluster_totals,
    instrument,
    long_totals,
    period_label,
)

__all__ = [
    "COMPARE_COLUMNS",
    "FIXED_DOMAINS",
    "PERIOD_DOMAINS",
    "Comparison",
    "Distributions",
    "IndexResult",
    "Instrument",
    "Selection",
    "SelectionError",
    "allowed_service_points",
    "answer_counts",
    "cluster_totals",
    "compare_with_whole",
    "distributions",
    "indices",
    "instrument",
    "long_totals",
    "period_label",
    "response_count",
]
