"""Which sampling design the published intervals assume, and the respondent-level moments it needs.

Two designs (documented for users in docs/methodology-design.md; HAILONG_DESIGN chooses, default below):

- ``counters`` (default): every service point (one-stop counter) is surveyed, so counters are STRATA — a
  census, not a sample of counters — and the respondents at a counter are the sampled units.  In R:
  ``svydesign(ids=~1, strata=~service_point, weights=~w)``.  Variances come from the within-counter
  spread of answers (`moment_tally`), df = respondents − counters.
- ``clusters``: methodology §3 as first written — strata = the units one level below the city, clusters =
  service points (``svydesign(ids=~service_point, strata=~district)``).  It treats counters as a random
  sample of counters; with the 1–3 counters a district has, df = 1–2, so its intervals swing between
  absurdly wide and absurdly narrow (demo: 91,05%–91,37% with n = 387 at df = 1).

The figures of both designs are computed by `analysis` only; this module picks the design and turns
`moment_tally` rows into `analysis.totals.UnitMoments` for the ``counters`` design.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from analysis.totals import UNIT_VARS, ClusterTotals, UnitMoments
from survey.respond import moments as stored
from survey.respond.models import MomentTally, ResponseTally
from survey.results.cache import month_chunks, per_request
from survey.results.selection import Selection, tally_filters

DESIGNS = ("counters", "clusters")
DEFAULT_DESIGN = "counters"
PERIOD_DOMAINS = ("month", "quarter", "year")

MT = MomentTally.__table__
RT = ResponseTally.__table__


def current_design(design: str | None = None) -> str:
    """The design asked for, else the app's HAILONG_DESIGN, else DEFAULT_DESIGN."""
    if design is None:
        try:
            from flask import current_app

            design = str(current_app.config.get("HAILONG_DESIGN") or DEFAULT_DESIGN)
        except RuntimeError:
            design = DEFAULT_DESIGN
    if design not in DESIGNS:
        raise ValueError(f"unknown design {design!r} (HAILONG_DESIGN: {' or '.join(DESIGNS)})")
    return design


def respondents_per_point(session: Any, sel: Selection) -> dict[int, int]:
    """Respondents per service point in the whole design (any channel, any agency): the stratum sizes n_h."""
    from survey.results.totals import month_versions

    whole = replace(sel.whole(), channels=())

    def query(periods: list[Any]) -> pd.DataFrame:
        rows = session.execute(select(RT.c.period, RT.c.service_point_id, func.sum(RT.c.count))
                               .where(*tally_filters(session, RT, whole), RT.c.period.in_(periods))
                               .group_by(RT.c.period, RT.c.service_point_id)).all()
        return pd.DataFrame(rows, columns=["period", "service_point_id", "n"])

    key = ("respondents", replace(whole, period_from=None, period_to=None).key())
    frame = per_request(("respondents", whole.key()),
                        lambda: month_chunks(session, key, month_versions(session, sel), query))
    if frame.empty:
        return {}
    return {int(k): int(v) for k, v in frame.groupby("service_point_id")["n"].sum().items()}


def moment_rows(session: Any, sel: Selection) -> pd.DataFrame:
    """moment_tally rows of the selection (domain filters applied in SQL), cached month by month."""
    from survey.results.totals import month_versions

    names = ["questionnaire_version_id", "service_point_id", "period", "channel", "gram"]

    def query(periods: list[Any]) -> pd.DataFrame:
        rows = session.execute(select(MT.c.questionnaire_version_id, MT.c.service_point_id, MT.c.period,
                                      MT.c.channel, MT.c.gram)
                               .where(*tally_filters(session, MT, sel), MT.c.period.in_(periods))).all()
        return pd.DataFrame(rows, columns=names)

    key = ("moments", replace(sel, period_from=None, period_to=None).key())
    return month_chunks(session, key, month_versions(session, sel), query)


def _variable_map(session: Any, version_id: int, items: tuple[str, ...]) -> tuple[int, np.ndarray]:
    """(P of the version's stored Gram, index of each selected variable in it; −1 where the version lacks it)."""
    from survey.instruments.service import questionnaire_for

    q, _ = questionnaire_for(session, version_id)
    own = list(stored.spec_of(q).items)
    k = len(UNIT_VARS)
    idx = np.full(k * len(items), -1, dtype=np.int64)
    for i, code in enumerate(items):
        if code in own:
            j = own.index(code)
            idx[k * i: k * i + k] = np.arange(k * j, k * j + k)
    return k * len(own), idx


def with_unit_moments(session: Any, sel: Selection, totals: ClusterTotals, dom: tuple[str, ...],
                      weights: pd.Series | None, period_label: Any) -> ClusterTotals:
    """`totals` (strata = clusters = service point codes) with the respondent-level moments of each row.

    weights: w per (service_point_id, period) for volume weighting (constant within the cell, so a cell's
    Σw²·u·uᵀ = w²·G), or None.  period_label(date, kind) labels period domains like the totals do.
    """
    from survey.results.tree import placements

    items = totals.items
    p = len(UNIT_VARS) * len(items)
    places = placements(session)
    rows = moment_rows(session, sel)
    period_cols = [c for c in dom if c in PERIOD_DOMAINS]
    by_channel = "channel" in dom
    sums: dict[tuple[Any, ...], np.ndarray] = {}
    maps: dict[int, tuple[int, np.ndarray]] = {}
    if len(rows):
        qv = rows["questionnaire_version_id"].to_numpy()
        sp = rows["service_point_id"].to_numpy()
        per = rows["period"].to_numpy()
        ch = rows["channel"].to_numpy()
        blobs = rows["gram"].to_numpy()
        w2 = np.ones(len(rows))
        if weights is not None:
            w = weights.reindex(pd.MultiIndex.from_arrays([sp, per])).to_numpy()
            w2 = np.where(np.isnan(w), 1.0, w) ** 2
        tri: dict[tuple[int, tuple[Any, ...]], np.ndarray] = {}
        for i in range(len(rows)):  # sum packed triangles per (version, row key) first: unpack once per key
            key = (places[int(sp[i])].service_point, *(period_label(per[i], c) for c in period_cols),
                   *((ch[i],) if by_channel else ()))
            vec = stored.triangle(blobs[i]) * w2[i]
            full = (int(qv[i]), key)
            acc = tri.get(full)
            tri[full] = vec if acc is None else acc + vec
        for (version, key), vec in tri.items():
            if version not in maps:
                maps[version] = _variable_map(session, version, items)
            width, idx = maps[version]
            g = stored.symmetric(vec, width)
            ok = idx >= 0
            mapped = np.zeros((p, p))
            mapped[np.ix_(ok, ok)] = g[np.ix_(idx[ok], idx[ok])]
            sums[key] = sums[key] + mapped if key in sums else mapped
    clusters = totals.clusters["cluster"].to_numpy()
    cell_cols = [*period_cols, *(["channel"] if by_channel else [])]
    cells = totals.cells[cell_cols].to_numpy() if cell_cols else np.empty((len(totals.cells), 0))
    zero = np.zeros((p, p))
    gram = np.stack([sums.get((clusters[c], *cells[j]), zero)
                     for c, j in zip(totals.row_cluster, totals.row_cell, strict=True)]) \
        if len(totals.row_cluster) else np.zeros((0, p, p))
    counts = respondents_per_point(session, sel)
    by_code = {places[i].service_point: n for i, n in counts.items() if i in places}
    n_h = np.array([by_code.get(label, 0) for label in totals.strata], dtype=np.int64)
    return replace(totals, unit=UnitMoments(n_h, gram), clustered=False)
