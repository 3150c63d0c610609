"""What a dashboard asks for: questionnaire version(s), period range, channels and the unit filters, plus the
viewer's scope — turned into SQL WHERE clauses on the count tables (never on answer rows).

Scope (`visible_agency_ids`, from survey.auth.scope) is a filter like any other, applied in SQL, so a row
of an agency the viewer may not see never leaves the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, false, select
from sqlalchemy.orm import Session

from survey.org.models import Agency, ServicePoint
from survey.org.tree import unit_subtree


@dataclass(frozen=True)
class Selection:
    """Filters of one dashboard request.  Empty tuples mean "no restriction"; periods are month starts.

    questionnaire_version_ids: one instrument (several versions only when their items share codes; the
        index definition of the highest id is used).
    period_from / period_to: first days of months, inclusive.
    channels: subset of kiosk, qr, web, paper.
    service_point_ids, agency_ids: restrict to these (intersected).
    unit_id: agencies of this unit and of every unit below it.
    visible_agency_ids: the viewer's scope; None = everything (home affairs, admin).
    """

    questionnaire_version_ids: tuple[int, ...]
    period_from: date | None = None
    period_to: date | None = None
    channels: tuple[str, ...] = ()
    service_point_ids: tuple[int, ...] = ()
    agency_ids: tuple[int, ...] = ()
    unit_id: int | None = None
    visible_agency_ids: frozenset[int] | None = None

    @classmethod
    def of(cls, questionnaire_version_ids: int | Iterable[int], **kw: Any) -> Selection:
        """Convenience constructor accepting one id or any iterables (normalised to sorted tuples)."""
        ids = (questionnaire_version_ids,) if isinstance(questionnaire_version_ids, int) else questionnaire_version_ids
        for key in ("channels", "service_point_ids", "agency_ids"):
            if key in kw and kw[key] is not None:
                kw[key] = tuple(sorted(set(kw[key])))
            elif key in kw:
                kw[key] = ()
        if kw.get("visible_agency_ids") is not None:
            kw["visible_agency_ids"] = frozenset(kw["visible_agency_ids"])
        return cls(tuple(sorted(set(ids))), **kw)

    def whole(self) -> Selection:
        """The same questionnaire, period and channels over every agency (the design / the whole city)."""
        return replace(self, service_point_ids=(), agency_ids=(), unit_id=None, visible_agency_ids=None)

    def key(self) -> tuple[Any, ...]:
        """Hashable identity for caches."""
        vis = None if self.visible_agency_ids is None else tuple(sorted(self.visible_agency_ids))
        return (self.questionnaire_version_ids, self.period_from, self.period_to, self.channels,
                self.service_point_ids, self.agency_ids, self.unit_id, vis)


def allowed_service_points(session: Session, sel: Selection) -> list[int] | None:
    """Service point ids the selection's unit filters and scope allow; None = no restriction at all.  Read once
    per request for the same filters (a cold Home Affairs index asked 16 times: the totals, the design and the
    coverage each filter by them); callers must not change the list."""
    from survey.results.cache import per_request

    if not (sel.service_point_ids or sel.agency_ids or sel.unit_id is not None or sel.visible_agency_ids is not None):
        return None
    vis = None if sel.visible_agency_ids is None else tuple(sorted(sel.visible_agency_ids))
    key = ("allowed-points", str(session.get_bind().engine.url), sel.service_point_ids, sel.agency_ids, sel.unit_id,
           vis)
    return per_request(key, lambda: _allowed_service_points(session, sel))


def _allowed_service_points(session: Session, sel: Selection) -> list[int] | None:
    q = select(ServicePoint.id).join(Agency, Agency.id == ServicePoint.agency_id)
    if sel.service_point_ids:
        q = q.where(ServicePoint.id.in_(sel.service_point_ids))
    if sel.agency_ids:
        q = q.where(Agency.id.in_(sel.agency_ids))
    if sel.unit_id is not None:
        q = q.where(Agency.unit_id.in_(unit_subtree(session, sel.unit_id)))
    if sel.visible_agency_ids is not None:
        if not sel.visible_agency_ids:
            return []
        q = q.where(Agency.id.in_(sel.visible_agency_ids))
    return sorted(session.scalars(q))


def tally_filters(session: Session, table: Any, sel: Selection) -> list[ColumnElement[bool]]:
    """WHERE clauses on a count table (`response_tally` or `answer_tally`) for the selection."""
    c = table.c
    out: list[ColumnElement[bool]] = [c.questionnaire_version_id.in_(sel.questionnaire_version_ids)]
    if sel.period_from is not None:
        out.append(c.period >= sel.period_from)
    if sel.period_to is not None:
        out.append(c.period <= sel.period_to)
    if sel.channels:
        out.append(c.channel.in_(sel.channels))
    sps = allowed_service_points(session, sel)
    if sps is not None:
        out.append(c.service_point_id.in_(sps) if sps else false())
    return out
