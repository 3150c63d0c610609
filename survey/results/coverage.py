"""What stands behind a figure: its response rate (responses ÷ citizens served) and the responses set aside.

Shown beside figures on the agency page, the Home Affairs comparison, their exports and the period report
(issue 16 §3): a low rate warns of self-selection, a rate above 100% is a flag, and "n responses excluded
after review" says that figures leave out responses found to be made by the people being rated.  Agency
users see only these counts — never who flagged what or why.

Counts come from `response_tally` (counted responses) and `service_volume` (dossiers per service point ×
month); the rate formula is `analysis.response_rate`.  Quarantined responses are counted from the
`response` rows by status (survey/respond/quarantine.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.response_rate import response_rates
from survey.org.models import ServiceVolume
from survey.respond.models import Response, ResponseTally
from survey.respond.quarantine import EXCLUDED, HELD, LATE, excluded_count
from survey.results.cache import cached, per_request
from survey.results.selection import Selection, allowed_service_points, tally_filters
from survey.results.tree import placements

RT = ResponseTally.__table__


@dataclass(frozen=True)
class Coverage:
    """Response rate and set-aside counts of one group (or of the whole selection: key "")."""

    key: str
    responses: int  # counted responses
    responses_with_volume: int  # of which in service point-months with a recorded volume
    served: int | None  # dossiers handled in those months (None: no volume recorded)
    rate: float | None  # responses_with_volume / served
    over: bool  # rate above 100%: more responses than citizens served
    cells_over: int  # service point-months with more responses than dossiers
    excluded: int  # excluded after review
    held: int  # held, awaiting review
    late: int = 0  # received after the publication of their period, waiting for a revision (publication.py)

    @property
    def has_volume(self) -> bool:
        return self.served is not None


def _group_key(place: Any, group: str | None) -> str:
    if group is None:
        return ""
    if group == "agency":
        return place.agency
    if group == "service_point":
        return place.service_point
    return place.levels.get(group, "")


def reviewed_count(session: Session, sel: Selection, status: str = EXCLUDED) -> int:
    """Responses of the selection (its versions, periods, channels, units and scope) with a review status:
    excluded after review (default) or held awaiting review."""
    sps = allowed_service_points(session, sel)
    if sps is not None and not sps:
        return 0
    return excluded_count(session, questionnaire_version_ids=sel.questionnaire_version_ids, channels=sel.channels,
                          service_point_ids=sps, period_from=sel.period_from, period_to=sel.period_to,
                          status=status)


def coverage_by(session: Session, sel: Selection, group: str | None = None) -> dict[str, Coverage]:
    """Coverage per group value (agency code, service point code or unit code at a tree level `group`);
    `group=None`: one entry "" for the whole selection.  Volume months: the selection's period range, or the
    months the questionnaire has responses in when a bound is open."""
    vis = None if sel.visible_agency_ids is None else tuple(sorted(sel.visible_agency_ids))
    return cached(session, ("coverage", sel.key(), group, vis, _volume_version(session)),
                  lambda: _coverage_by(session, sel, group))


def coverage(session: Session, sel: Selection) -> Coverage:
    """Coverage of the whole selection."""
    return coverage_by(session, sel, None).get("", _empty(""))


def _empty(key: str) -> Coverage:
    return Coverage(key, 0, 0, None, None, False, 0, 0, 0)


def _volume_version(session: Session) -> tuple[Any, ...]:
    """Volumes change without a new response: part of the cache key (read once per request: a page asks for
    the coverage of its table and of its headline; the pages that change volumes redirect after the change)."""
    def read() -> tuple[Any, ...]:
        row = session.execute(select(func.count(), func.max(ServiceVolume.updated_at),
                                     func.sum(ServiceVolume.dossiers))).first()
        return tuple(row) if row is not None else ()

    return per_request(("volume-version", str(session.get_bind().engine.url)), read)


def _coverage_by(session: Session, sel: Selection, group: str | None) -> dict[str, Coverage]:
    places = placements(session)
    counted = session.execute(select(RT.c.service_point_id, RT.c.period, func.sum(RT.c.count))
                              .where(*tally_filters(session, RT, sel))
                              .group_by(RT.c.service_point_id, RT.c.period)).all()
    lo, hi = sel.period_from, sel.period_to
    if lo is None or hi is None:
        span = session.execute(select(func.min(RT.c.period), func.max(RT.c.period))
                               .where(RT.c.questionnaire_version_id.in_(sel.questionnaire_version_ids))).first()
        lo = lo or (span[0] if span else None)
        hi = hi or (span[1] if span else None)
    sps = allowed_service_points(session, sel)
    volumes: Sequence[Any] = []
    if lo is not None and hi is not None and (sps is None or sps):
        q = select(ServiceVolume.service_point_id, ServiceVolume.period, ServiceVolume.dossiers).where(
            ServiceVolume.period >= lo, ServiceVolume.period <= hi)
        if sps is not None:
            q = q.where(ServiceVolume.service_point_id.in_(sps))
        volumes = session.execute(q).all()
    cells: dict[tuple[int, Any], list[float]] = {}
    for sp, period, n in counted:
        cells[(sp, period)] = [float(n), np.nan]
    for sp, period, dossiers in volumes:
        cells.setdefault((sp, period), [0.0, np.nan])[1] = float(dossiers)
    keyed = [(_group_key(places[sp], group), v[0], v[1]) for (sp, _p), v in cells.items() if sp in places]
    frame = pd.DataFrame(keyed, columns=["key", "responses", "served"])
    rates = response_rates(frame, ["key"])
    aside = _set_aside(session, sel, places, group)
    out: dict[str, Coverage] = {}
    for r in rates.to_dict("records"):
        excluded, held, late = aside.pop(str(r["key"]), (0, 0, 0))
        served = None if pd.isna(r["served"]) else int(r["served"])
        rate = None if pd.isna(r["rate"]) else float(r["rate"])
        out[str(r["key"])] = Coverage(str(r["key"]), int(r["responses"]), int(r["responses_with_volume"]), served,
                                      rate, bool(r["over"]), int(r["cells_over"]), excluded, held, late)
    for key, (excluded, held, late) in aside.items():  # every response of the group set aside
        out[key] = Coverage(key, 0, 0, None, None, False, 0, excluded, held, late)
    if group is None and "" not in out:
        out[""] = _empty("")
    return out


def _set_aside(session: Session, sel: Selection, places: dict[int, Any], group: str | None
               ) -> dict[str, tuple[int, int, int]]:
    """(excluded, held, late) per group key, from the response rows (such responses are in no tally)."""
    q = (select(Response.service_point_id, Response.review_status, func.count())
         .where(Response.review_status.is_not(None),
                Response.questionnaire_version_id.in_(sel.questionnaire_version_ids)))
    if sel.period_from is not None:
        q = q.where(Response.period >= sel.period_from)
    if sel.period_to is not None:
        q = q.where(Response.period <= sel.period_to)
    if sel.channels:
        q = q.where(Response.channel.in_(sel.channels))
    sps = allowed_service_points(session, sel)
    if sps is not None:
        if not sps:
            return {}
        q = q.where(Response.service_point_id.in_(sps))
    column = {EXCLUDED: 0, HELD: 1, LATE: 2}
    out: dict[str, list[int]] = {}
    for sp, status, n in session.execute(q.group_by(Response.service_point_id, Response.review_status)):
        if sp not in places or status not in column:
            continue
        out.setdefault(_group_key(places[sp], group), [0, 0, 0])[column[status]] += int(n)
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}
