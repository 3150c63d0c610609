"""Per-cluster sufficient statistics from the count tables: one SQL GROUP BY, no answer row read.

`cluster_totals` returns `analysis.ClusterTotals` built by `analysis.totals_from_frame` from the long
totals table of docs/contracts.md §5: stratum (unit one level below the root, see survey/results/tree.py),
cluster (service point code), the domain columns, item, n, sw, sw2, sw_sat, sw_value.

Item statistics (n, satisfied, Σ value per service point × month × channel × item) are read off the diagonals
of `moment_tally`'s Gram matrices (survey/results/design.py:moment_item_stats: one decoded row per cell, cached
by month), which hold exactly these sums.  The fallback, when a selected older version counts other levels as
satisfied, sums `answer_tally` (counts per questionnaire version × service point × month × channel × item ×
value), where every statistic is a weighted count: a row with value v and count c contributes n = c when v is a level of
the item (0 = no opinion is not an answer), sw_sat = w·c when v is a satisfied level, sw_value = w·v·c, with
w constant within a service point × month cell.

Weights: `none` (w = 1) or `volume` — post-stratification to service volume, w = N_c / n_c per service point ×
month (methodology §5; N_c = dossiers in `service_volume`, n_c = responses to the selected questionnaire(s)
in that cell over all channels).  A cell with no recorded volume takes the ratio ΣN/Σn of the cells that have
one (it counts as a typical cell rather than being dropped); with no volume recorded at all, w = 1.

The design (every cluster counting in n_h) is the set of service points with a response to the selected
questionnaire(s) in the period range, over all channels and all agencies; unit, scope and channel filters
define the domain by zeroing (methodology §3: never by subsetting the design).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, case, false, func, or_, select, text
from sqlalchemy.orm import Session

from analysis.totals import ClusterTotals, totals_from_frame
from questionnaires.index_spec import IndexSpec
from questionnaires.model import Questionnaire
from survey.errors import N_, DomainError, register
from survey.org.models import ServiceVolume
from survey.questionnaire_versions.models import Item, QuestionnaireVersion
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.models import AnswerTally, ResponseTally
from survey.results.cache import month_chunks
from survey.results.design import current_design, moment_item_stats, period_strata, period_stratum, with_unit_moments
from survey.results.selection import Selection, tally_filters
from survey.results.tree import level_codes, placement_frame, placements

PERIOD_DOMAINS = ("month", "quarter", "year")
FIXED_DOMAINS = ("agency", "service_point", "channel", *PERIOD_DOMAINS)
WEIGHTS = ("none", "volume")

AT = AnswerTally.__table__
RT = ResponseTally.__table__


register({
    "selection_empty": N_("no questionnaire selected"),
    "selection_versions_mixed": N_("questionnaire versions must exist and belong to one instrument"),
    "selection_domain_unknown": N_("unknown domain %(domains)s"),
    "selection_weighting_unknown": N_("unknown weighting %(weights)s"),
})


class SelectionError(DomainError):
    """The request names an unknown domain, weighting or questionnaire."""


@dataclass(frozen=True)
class VersionRecord:
    """A questionnaire version's identity and titles, copied out of its ORM row.

    An Instrument outlives its request (the results cache keeps it inside an IndexResult); an ORM row would
    expire when that request's session rolled back or committed, and after one page's 500 every later
    agency page of the worker failed with DetachedInstanceError until the data changed.
    """

    id: int
    instrument: str
    version: int
    title_vi: str
    title_en: str
    checksum: str

    @classmethod
    def of(cls, row: QuestionnaireVersion) -> VersionRecord:
        return cls(row.id, row.instrument, row.version, row.title_vi, row.title_en, row.checksum)

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_vi

    @property
    def label(self) -> str:
        return f"{self.instrument} v{self.version}"


@dataclass(frozen=True)
class Instrument:
    """The questionnaire a selection is analysed with."""

    record: VersionRecord
    questionnaire: Questionnaire
    spec: IndexSpec
    item_codes: dict[int, str]  # item id (any selected version) → code


def period_label(d: date, kind: str) -> str:
    """Same labels as analysis.data.period_codes: 2022-07, 2022-Q3, 2022 — the year always in four digits (year
    22 is 0022-Q3: "22-Q3" matched no label pattern, so the period could not be read back)."""
    if kind == "month":
        return f"{d.year:04d}-{d.month:02d}"
    if kind == "quarter":
        return f"{d.year:04d}-Q{(d.month - 1) // 3 + 1}"
    return f"{d.year:04d}"


def instrument(session: Session, sel: Selection) -> Instrument:
    """Questionnaire and index spec of the selection (the highest selected version defines the index)."""
    from survey.results.cache import per_request

    return per_request(("instrument", sel.questionnaire_version_ids), lambda: _instrument(session, sel))


def _instrument(session: Session, sel: Selection) -> Instrument:
    if not sel.questionnaire_version_ids:
        raise SelectionError("selection_empty", "questionnaire")
    records = session.scalars(select(QuestionnaireVersion)
                              .where(QuestionnaireVersion.id.in_(sel.questionnaire_version_ids))).all()
    if len(records) != len(sel.questionnaire_version_ids) or len({r.instrument for r in records}) != 1:
        raise SelectionError("selection_versions_mixed", "questionnaire")
    record = max(records, key=lambda r: r.version)
    q, _ = questionnaire_for(session, record.id)
    spec = q.index_spec()
    codes = dict(session.execute(select(Item.id, Item.code)
                                 .where(Item.questionnaire_version_id.in_(sel.questionnaire_version_ids))).all())
    return Instrument(VersionRecord.of(record), q, spec, codes)


def normalise_domain(session: Session, domain: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if domain is None or domain == "all":
        return ()
    cols = (domain,) if isinstance(domain, str) else tuple(domain)
    allowed = set(FIXED_DOMAINS) | set(level_codes(session))
    bad = [c for c in cols if c not in allowed]
    if bad:
        raise SelectionError("selection_domain_unknown", "domain", domains=", ".join(bad))
    return cols


def design_frame(session: Session, sel: Selection) -> pd.DataFrame:
    """(stratum, cluster) of every service point in the design: responses to the questionnaire(s) in the
    period range, any channel, any agency (see the module docstring)."""
    places = placements(session)
    return placement_frame(places, design_points(session, sel), ["stratum", "cluster"]).reset_index(drop=True)


def design_points(session: Session, sel: Selection) -> list[int]:
    """The ids of `design_frame`'s service points, sorted (read once per request)."""
    whole = replace(sel.whole(), channels=())
    from survey.results.cache import per_request

    return per_request(("design", whole.key()), lambda: sorted(session.scalars(
        select(RT.c.service_point_id).where(*tally_filters(session, RT, whole)).distinct()).all()))


def volume_weights(session: Session, sel: Selection, sp_ids: list[int]) -> pd.Series:
    """w = N_c / n_c per (service_point_id, period) cell (module docstring for missing volumes)."""
    whole = replace(sel.whole(), channels=(), service_point_ids=tuple(sp_ids))
    n = pd.DataFrame(session.execute(
        select(RT.c.service_point_id, RT.c.period, func.sum(RT.c.count))
        .where(*tally_filters(session, RT, whole))
        .group_by(RT.c.service_point_id, RT.c.period)).all(), columns=["service_point_id", "period", "n"])
    vq = select(ServiceVolume.service_point_id, ServiceVolume.period, ServiceVolume.dossiers).where(
        ServiceVolume.service_point_id.in_(sp_ids))
    if sel.period_from is not None:
        vq = vq.where(ServiceVolume.period >= sel.period_from)
    if sel.period_to is not None:
        vq = vq.where(ServiceVolume.period <= sel.period_to)
    vol = pd.DataFrame(session.execute(vq).all(), columns=["service_point_id", "period", "N"])
    cells = n.merge(vol, on=["service_point_id", "period"], how="left")
    cells["n"] = cells["n"].astype(np.float64)
    known = cells["N"].notna() & (cells["N"] > 0)
    fallback = float(cells.loc[known, "N"].sum() / cells.loc[known, "n"].sum()) if known.any() else 1.0
    w = np.where(known, cells["N"].astype(np.float64) / cells["n"], fallback)
    return pd.Series(w, index=pd.MultiIndex.from_frame(cells[["service_point_id", "period"]]), name="w")


def tally_rows(session: Session, sel: Selection, item_ids: list[int], *, by_period: bool, by_channel: bool,
               scored_only: bool = True) -> pd.DataFrame:
    """The GROUP BY over `answer_tally`: service_point_id, [period], [channel], item_id, value, count."""
    cols = [AT.c.service_point_id, AT.c.period]
    if by_channel:
        cols.append(AT.c.channel)
    cols += [AT.c.item_id, AT.c.value]
    base = tally_filters(session, AT, sel)
    if scored_only:
        base.append(AT.c.item_id.in_(item_ids))
    key = ("tally", replace(sel, period_from=None, period_to=None).key(), tuple(item_ids) if scored_only else None,
           by_channel)
    rows = _chunked(session, sel, key, cols, [func.sum(AT.c.count).label("count")], base)
    return _drop_period(rows, by_period, ["count"])


def item_stat_rows(session: Session, sel: Selection, inst: Instrument, *, by_period: bool,
                   by_channel: bool) -> pd.DataFrame:
    """Per service point × [period] × [channel] × scored item: n (answers: value > 0, the validated levels),
    sat (answers at a satisfied level) and sv (Σ value) — summed by the database, values never leave it."""
    scored = {iid: code for iid, code in inst.item_codes.items() if code in inst.spec.items}
    groups: dict[frozenset[int], list[int]] = {}
    for iid, code in scored.items():
        if inst.spec.items[code].satisfied:
            groups.setdefault(frozenset(inst.spec.items[code].satisfied), []).append(iid)
    answered = AT.c.value > 0
    is_sat = or_(*[and_(AT.c.item_id.in_(sorted(ids)), AT.c.value.in_(sorted(sat))) for sat, ids in groups.items()]) \
        if groups else false()
    stats = [func.sum(case((answered, AT.c.count), else_=0)).label("n"),
             func.sum(case((is_sat, AT.c.count), else_=0)).label("sat"),
             func.sum(case((answered, AT.c.count * AT.c.value), else_=0)).label("sv")]
    cols = [AT.c.service_point_id, AT.c.period] + ([AT.c.channel] if by_channel else []) + [AT.c.item_id]
    base = [*tally_filters(session, AT, sel), AT.c.item_id.in_(sorted(scored))]
    key = ("itemstats", replace(sel, period_from=None, period_to=None).key(), inst.record.id, by_channel)
    rows = _chunked(session, sel, key, cols, stats, base)
    return _drop_period(rows, by_period, ["n", "sat", "sv"])


def _chunked(session: Session, sel: Selection, key: Any, cols: list[Any], aggregates: list[Any],
             where: list[Any]) -> pd.DataFrame:
    """SELECT cols, aggregates … GROUP BY cols (period always among them), cached month by month
    (survey/results/cache.py:month_chunks): a new response changes only its own month's count in
    `response_tally`, so only that month is read again."""
    names = [c.name for c in cols] + [a.name for a in aggregates]

    def query(periods: list[date]) -> pd.DataFrame:
        stmt = select(*cols, *aggregates).where(*where, AT.c.period.in_(periods)).group_by(*cols)
        return frame_of(execute_aggregate(session, stmt).all(), names)

    return month_chunks(session, key, month_versions(session, sel), query)


def execute_aggregate(session: Session, stmt: Any) -> Any:
    """Run a big GROUP BY; on PostgreSQL without JIT (compiling costs more than it saves on these short
    queries) and with enough work_mem to hash-aggregate in memory rather than spill to disk."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    return session.execute(stmt)


def _drop_period(rows: pd.DataFrame, by_period: bool, sums: list[str]) -> pd.DataFrame:
    if by_period:
        return rows
    if rows.empty:
        return rows.drop(columns=["period"])
    group = [c for c in rows.columns if c != "period" and c not in sums]
    return rows.groupby(group, sort=False, as_index=False)[sums].sum()


def month_versions(session: Session, sel: Selection) -> dict[date, int]:
    """Responses per month to the selected questionnaire(s) in the period range, whole city, any channel:
    a month's count changes whenever any of its tally rows does (responses are only ever added)."""
    from survey.results.cache import per_request

    whole = replace(sel.whole(), channels=())

    def compute() -> dict[date, int]:
        rows = session.execute(select(RT.c.period, func.sum(RT.c.count)).where(*tally_filters(session, RT, whole))
                               .group_by(RT.c.period)).all()
        return {p: int(n) for p, n in rows}

    # a page asks several times; within one request the data does not change
    return per_request(("month-versions", whole.key()), compute)


def frame_of(rows: list[Any], names: list[str]) -> pd.DataFrame:
    """DataFrame from result rows, column by column (pandas' row-object path is ~10× slower)."""
    if not rows:
        return pd.DataFrame(columns=names)
    columns = list(zip(*rows, strict=True))
    as_objects = ("period", "channel", "gram")  # dates, strings, bytes (a fixed-width bytes array drops NULs)
    return pd.DataFrame({name: np.asarray(col) if name not in as_objects else _objects(col)
                         for name, col in zip(names, columns, strict=True)})


def _objects(col: tuple[Any, ...]) -> np.ndarray:
    out = np.empty(len(col), dtype=object)
    out[:] = col
    return out


def cluster_totals(session: Session, sel: Selection, *, domain: str | tuple[str, ...] | None = (),
                   weights: str = "none", inst: Instrument | None = None, design: str | None = None) -> ClusterTotals:
    """`analysis.ClusterTotals` of the selection with domain columns `domain` (see module docstring).

    domain: () / "all", or any of agency, service_point, channel, month, quarter, year, or a tree level code
    (e.g. "district": the unit code at that level above the agency, "" where there is none), or a tuple of
    them (cross-classified; `ClusterTotals.collapse` gives coarser ones).
    design: "counters" (service points are strata, respondents the units: totals carry `UnitMoments`) or
    "clusters" (strata = units below the root, clusters = service points); None = the app's setting
    (survey/results/design.py).
    """
    if weights not in WEIGHTS:
        raise SelectionError("selection_weighting_unknown", "weights", weights=repr(weights))
    design = current_design(design)
    inst = inst or instrument(session, sel)
    dom = normalise_domain(session, domain)
    from survey.results.cache import per_request

    # the last totals built in this request are kept (one, not all: a SIPAS report's are 3-23 MB each): a
    # comparison's ranks are drawn from the totals its estimates were just built from (survey.results.comparison)
    key = (sel.key(), dom, weights, inst.record.id, design)
    last: dict[str, Any] = per_request("last-cluster-totals", dict)
    if last.get("key") == key:
        return last["totals"]  # never modified by their users
    totals = _cluster_totals(session, sel, dom, weights, inst, design)
    last.update(key=key, totals=totals)
    return totals


#: counters design without weights: totals built month by month (survey/results/month_pass.py) instead of from
#: per-service-point running totals over the period (design.with_unit_moments); tests switch it off to compare
ONE_PASS = True


def _cluster_totals(session: Session, sel: Selection, dom: tuple[str, ...], weights: str, inst: Instrument,
                    design: str) -> ClusterTotals:
    if ONE_PASS and design == "counters" and weights == "none":
        from survey.results.month_pass import counters_totals

        found = counters_totals(session, sel, dom, inst)
        if found is not None:
            return found
    frame, points = design_frames(session, sel, long_totals(session, sel, inst, dom, weights), period_stratum(dom),
                                  design)
    if design == "clusters":
        return totals_from_frame(frame, inst.spec, dom, design=points, weighted=weights == "volume")
    totals = totals_from_frame(frame, inst.spec, dom, design=points, weighted=weights == "volume")
    w = None
    if weights == "volume":
        w = volume_weights(session, sel, sorted(placements(session)))
    return with_unit_moments(session, sel, totals, dom, w, period_label)


def design_frames(session: Session, sel: Selection, frame: pd.DataFrame, split: str | None,
                  design: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(long totals, design points) with the design's strata: periods estimated as in their own designs —
    strata split by the periods of `split` (design.period_strata); else counters: stratum = service point."""
    if split is not None:
        return period_strata(session, sel, frame, split, period_label, design)
    points = design_frame(session, sel)
    if design == "counters":
        frame["stratum"] = frame["cluster"]
        points["stratum"] = points["cluster"]
    return frame, points


def long_totals(session: Session, sel: Selection, inst: Instrument, dom: tuple[str, ...], weights: str,
                rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """The long totals table (contracts §5) of the selection.

    Statistics are summed over values (and over periods/channels not in the domain) on integer keys first,
    so analysis receives one row per (service point, domain cell, item): a few thousand rows at most.
    rows: the item statistics when the caller has them already (survey/results/month_pass.py).
    """
    scored = {iid: code for iid, code in inst.item_codes.items() if code in inst.spec.items}
    by_period = weights == "volume" or any(c in PERIOD_DOMAINS for c in dom)
    if rows is None:
        rows = moment_item_stats(session, sel, inst, by_channel="channel" in dom, by_period=by_period)
    if rows is None:  # a version defines "satisfied" differently: count answer_tally's value rows instead
        rows = item_stat_rows(session, sel, inst, by_period=by_period, by_channel="channel" in dom)
    stat_cols = ["n", "sw", "sw2", "sw_sat", "sw_value"]
    if rows.empty:
        return pd.DataFrame(columns=["stratum", "cluster", *dom, "item", *stat_cols])
    item_ids = rows["item_id"].to_numpy()
    n = rows["n"].to_numpy(dtype=np.float64)
    sat = rows["sat"].to_numpy(dtype=np.float64)
    sv = rows["sv"].to_numpy(dtype=np.float64)
    if weights == "volume":
        w_cells = volume_weights(session, sel, sorted(rows["service_point_id"].unique().tolist()))
        w = w_cells.reindex(pd.MultiIndex.from_frame(rows[["service_point_id", "period"]])).to_numpy()
        w = np.where(np.isnan(w), 1.0, w)
    else:
        w = np.ones(len(rows))
    keys = pd.DataFrame({"service_point_id": rows["service_point_id"].to_numpy(), "item_id": item_ids})
    for col in dom:
        if col == "channel":
            keys[col] = rows["channel"].to_numpy()
        elif col in PERIOD_DOMAINS:
            labels = {p: period_label(p, col) for p in rows["period"].unique()}
            keys[col] = rows["period"].map(labels).to_numpy()
    stats = pd.DataFrame({"n": n, "sw": w * n, "sw2": w * w * n, "sw_sat": w * sat, "sw_value": w * sv})
    key_cols = list(keys.columns)
    grouped = pd.concat([keys, stats], axis=1).groupby(key_cols, sort=True, as_index=False)[stat_cols].sum()
    places = placements(session)
    place_cols = ["stratum", "cluster", *[c for c in dom if c not in ("channel", *PERIOD_DOMAINS)]]
    pf = placement_frame(places, grouped["service_point_id"].unique(), place_cols)
    out = pf.reindex(grouped["service_point_id"].to_numpy()).reset_index(drop=True)
    for col in dom:
        if col in ("channel", *PERIOD_DOMAINS):
            out[col] = grouped[col].to_numpy()
    out = out[["stratum", "cluster", *dom]]
    out["item"] = grouped["item_id"].map(scored).to_numpy()
    for col in stat_cols:
        out[col] = grouped[col].to_numpy()
    return out
