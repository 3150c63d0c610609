"""When a comment was written, as staff may see it: the day, or only the month on a quiet day.

The agency reading a comment knows who it served and when.  A minute ("10:42, counter 2") names the
citizen; a day at a busy service point does not.  So comments show the local date only, and where that
service point had fewer than `SMALL_DAY` responses that day, only the month (docs/security.md §5) — on the
page and in the CSV/XLSX alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.i18n import LOCAL_TZ
from survey.respond.models import Response

SMALL_DAY = 5


def _local_day(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def day_counts(session: Session, moments: Sequence[tuple[int, datetime]]) -> Counter[tuple[int, date]]:
    """Responses per (service point id, local day) for the service points and days of `moments`
    ((service point id, submitted_at) pairs), read in one query over the days they span."""
    if not moments:
        return Counter()
    wanted = {(sp, _local_day(at)) for sp, at in moments}
    days = sorted({d for _sp, d in wanted})
    start = datetime.combine(days[0], time(), LOCAL_TZ)
    end = datetime.combine(days[-1] + timedelta(days=1), time(), LOCAL_TZ)
    rows = session.execute(select(Response.service_point_id, Response.submitted_at)
                           .where(Response.service_point_id.in_({sp for sp, _d in wanted}),
                                  Response.submitted_at >= start, Response.submitted_at < end))
    counts: Counter[tuple[int, date]] = Counter()
    for sp, at in rows:
        key = (sp, _local_day(at))
        if key in wanted:
            counts[key] += 1
    return counts


def shown_when(at: datetime, service_point_id: int, counts: Counter[tuple[int, date]]) -> str:
    """12/07/2022, or 'Tháng 07/2022' when that service point had fewer than SMALL_DAY responses that day."""
    day = _local_day(at)
    if counts[(service_point_id, day)] >= SMALL_DAY:
        return day.strftime("%d/%m/%Y")
    return _("Month %(month)s/%(year)s", month=str(day.month).zfill(2), year=day.year)


def coarsen(session: Session, rows: Sequence[Any]) -> list[tuple[Any, str, Any]]:
    """(comment, submitted_at, service point) rows → (comment, shown date text, service point)."""
    counts = day_counts(session, [(sp.id, at) for _c, at, sp in rows])
    return [(c, shown_when(at, sp.id, counts), sp) for c, at, sp in rows]
