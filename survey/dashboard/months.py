"""The months a filter can offer: those holding responses, by name ("Tháng 8/2022").

A browser's own month input shows "--------- ----" when empty (Chromium in Vietnamese) and a different
widget in every browser, so the From/To filters are plain selects of the months that have data.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.org.models import ServicePoint
from survey.respond.models import ResponseTally
from survey.results.periods import period_name


def months_with_data(session: Session, *, version_id: int | None = None,
                     agency_id: int | None = None) -> list[tuple[str, str]]:
    """(label "2022-08", name "Tháng 8/2022") of every month with responses, oldest first."""
    q = select(ResponseTally.period).distinct()
    if version_id is not None:
        q = q.where(ResponseTally.questionnaire_version_id == version_id)
    if agency_id is not None:
        q = q.join(ServicePoint, ServicePoint.id == ResponseTally.service_point_id).where(
            ServicePoint.agency_id == agency_id)
    return month_options(session.scalars(q).all())


def month_options(months: Iterable[object]) -> list[tuple[str, str]]:
    labels = sorted({f"{d.year}-{d.month:02d}" for d in months})  # type: ignore[attr-defined]
    return [(label, period_name(label)) for label in labels]
