"""Service volumes: dossiers handled per service point and month (the N of post-stratification, methodology §5)
and dossiers rated dissatisfied or complained about (Decision 766's satisfaction ratio, methodology §1.2).

Entering (grid) and importing (file) both come down to a list of `Entry` → `plan` (what would change) →
`apply` (one audit event for the batch).  Replacing or removing a stored figure changes published weights,
so the pages ask for confirmation whenever the plan has any.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Final, Literal

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.audit import record
from survey.database import utcnow
from survey.inputs import whole_number
from survey.org.models import Agency, ServicePoint, ServiceVolume
from survey.uploads import Cell, RowError, Table, empty_table_error, header_errors

MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
COLUMNS = ("service_point", "month", "dossiers", "dissatisfied_or_complaints")


class _Keep(Enum):
    """A one-member enum rather than object(): mypy narrows `x is KEEP` away from int | None."""
    KEEP = "keep"


KEEP: Final = _Keep.KEEP  # "leave the stored dissatisfied count as it is" (an empty optional cell in an import)
Keep = Literal[_Keep.KEEP]


@dataclass(frozen=True)
class Entry:
    service_point: ServicePoint
    period: date
    dossiers: int | None  # None: remove the stored figure
    dissatisfied: int | Keep | None = KEEP


@dataclass(frozen=True)
class Change:
    code: str
    period: date
    before: tuple[int, int | None] | None
    after: tuple[int, int | None] | None
    service_point_id: int

    @property
    def kind(self) -> str:
        return "new" if self.before is None else ("remove" if self.after is None else "replace")

    @property
    def month(self) -> str:
        return self.period.strftime("%Y-%m")


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0

    @property
    def overwrites(self) -> list[Change]:
        return [c for c in self.changes if c.kind != "new"]

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)


def parse_month(cell: Cell) -> date | None:
    if isinstance(cell, datetime):
        return date(cell.year, cell.month, 1)
    m = MONTH.match(cell.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        return None
    return date(int(m.group(1)), int(m.group(2)), 1)


def parse_count(text: str) -> int | None:
    """A non-negative whole number typed by a person ("1200", "1.200" and "1,200" are all 1200); None if not."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if cleaned.endswith(".0"):
        cleaned = cleaned[:-2]
    if re.fullmatch(r"\d{1,3}([.,]\d{3})+", cleaned):
        cleaned = cleaned.replace(".", "").replace(",", "")
    return whole_number(cleaned) if cleaned.isdigit() else None


def stored(session: Session, sp_ids: list[int] | None = None) -> dict[tuple[int, date], ServiceVolume]:
    stmt = select(ServiceVolume)
    if sp_ids is not None:
        stmt = stmt.where(ServiceVolume.service_point_id.in_(sp_ids))
    return {(v.service_point_id, v.period): v for v in session.scalars(stmt)}


def plan(session: Session, entries: list[Entry]) -> Plan:
    current = stored(session, sorted({e.service_point.id for e in entries}))
    out = Plan()
    for e in entries:
        row = current.get((e.service_point.id, e.period))
        before = (row.dossiers, row.dissatisfied_or_complaints) if row is not None else None
        if e.dossiers is None:
            after = None
        else:
            dissatisfied = (before[1] if before else None) if e.dissatisfied is KEEP else e.dissatisfied
            after = (e.dossiers, dissatisfied)
        if before == after:
            out.unchanged += before is not None
            continue
        out.changes.append(Change(e.service_point.code, e.period, before, after, e.service_point.id))
    return out


def apply(session: Session, the_plan: Plan, source: str) -> None:
    """Write the plan's changes and one audit event (before/after by "service point month"). No commit."""
    current = stored(session, sorted({c.service_point_id for c in the_plan.changes}))
    now = utcnow()
    for c in the_plan.changes:
        row = current.get((c.service_point_id, c.period))
        if c.after is None:
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            row = ServiceVolume(service_point_id=c.service_point_id, period=c.period)
            session.add(row)
        row.dossiers, row.dissatisfied_or_complaints = c.after
        row.updated_at = now
    session.flush()
    key = lambda c: f"{c.code} {c.month}"  # noqa: E731
    record(session, "volumes.save", "service_volume", source,
           before={key(c): list(c.before) for c in the_plan.changes if c.before is not None},
           after={"source": source, "new": the_plan.count("new"), "replaced": the_plan.count("replace"),
                  "removed": the_plan.count("remove"),
                  **{key(c): list(c.after) for c in the_plan.changes if c.after is not None}})


# ------------------------------------------------------------------------------------------ import files
def check_table(session: Session, table: Table) -> tuple[list[Entry], list[RowError]]:
    """Entries of a volume file and every row error (line, column, problem).  Reads only."""
    errors = header_errors(table.header, COLUMNS[:3])
    errors += [RowError(1, c, _("Unknown column: the columns are service_point, month, dossiers and "
                                "dissatisfied_or_complaints.")) for c in table.header if c and c not in COLUMNS]
    if errors:
        return [], errors
    points = {sp.code: sp for sp in session.scalars(select(ServicePoint))}
    seen: dict[tuple[str, date], int] = {}
    entries: list[Entry] = []
    for line, cells in table.rows:
        row_errors: list[RowError] = []
        code = str(cells.get("service_point", "")).strip()
        sp = points.get(code)
        if not code:
            row_errors.append(RowError(line, "service_point", _("Required: the service point code.")))
        elif sp is None:
            row_errors.append(RowError(line, "service_point", _("Unknown service point %(code)s.", code=code)))
        period = parse_month(cells.get("month", ""))
        if period is None:
            row_errors.append(RowError(line, "month", _("Not a month: write it as YYYY-MM, e.g. 2024-03 (found "
                                                        "%(value)s).", value=cells.get("month", ""))))
        elif sp is not None:
            if (sp.code, period) in seen:
                row_errors.append(RowError(line, "month", _("Duplicate: line %(other)d has the same service point "
                                                            "and month.", other=seen[(sp.code, period)])))
            else:
                seen[(sp.code, period)] = line
        dossiers = parse_count(str(cells.get("dossiers", "")))
        if dossiers is None:
            row_errors.append(RowError(line, "dossiers", _("Required: a whole number of dossiers, 0 or more (found "
                                                           "%(value)s).", value=cells.get("dossiers", ""))))
        raw = str(cells.get("dissatisfied_or_complaints", "")).strip()
        dissatisfied: int | Keep | None = KEEP
        if raw:
            dissatisfied = parse_count(raw)
            if dissatisfied is None:
                row_errors.append(RowError(line, "dissatisfied_or_complaints",
                                           _("Not a whole number, 0 or more (found %(value)s).", value=raw)))
            elif dossiers is not None and dissatisfied > dossiers:
                row_errors.append(RowError(line, "dissatisfied_or_complaints",
                                           _("More than the number of dossiers (%(n)d).", n=dossiers)))
        errors += row_errors
        if not row_errors and sp is not None and period is not None:  # no error: both were found
            entries.append(Entry(sp, period, dossiers, dissatisfied))
    return entries, errors + empty_table_error(table)


# ------------------------------------------------------------------------------------------ Decision 766
@dataclass(frozen=True)
class RatioCell:
    dossiers: int
    dissatisfied: int
    points: int          # service points with a volume that month
    points_counted: int  # of which with a dissatisfied/complaints count
    counted_dossiers: int = 0  # dossiers of those service points

    @property
    def ratio(self) -> float | None:
        """(dossiers − dissatisfied or complained) / dossiers, over the service points that gave the count."""
        if self.counted_dossiers == 0:
            return None
        return (self.counted_dossiers - self.dissatisfied) / self.counted_dossiers

    @property
    def complete(self) -> bool:
        return self.points == self.points_counted


def ratio_766(session: Session, year: int) -> tuple[list[Agency], dict[tuple[int, int], RatioCell]]:
    """Per agency and month of `year`: the Decision 766 satisfaction ratio inputs and value."""
    rows = session.execute(
        select(ServicePoint.agency_id, ServiceVolume.period, ServiceVolume.dossiers,
               ServiceVolume.dissatisfied_or_complaints)
        .join(ServicePoint, ServicePoint.id == ServiceVolume.service_point_id)
        .where(ServiceVolume.period >= date(year, 1, 1), ServiceVolume.period <= date(year, 12, 1))).all()
    acc: dict[tuple[int, int], list[int]] = {}
    for agency_id, period, dossiers, dissatisfied in rows:
        a = acc.setdefault((agency_id, period.month), [0, 0, 0, 0, 0])
        a[0] += dossiers
        a[2] += 1
        if dissatisfied is not None:
            a[1] += dissatisfied
            a[3] += 1
            a[4] += dossiers
    cells = {k: RatioCell(dossiers=v[0], dissatisfied=v[1], points=v[2], points_counted=v[3], counted_dossiers=v[4])
             for k, v in acc.items()}
    agency_ids = {k[0] for k in cells}
    agencies = list(session.scalars(select(Agency).where(Agency.id.in_(agency_ids)).order_by(Agency.code))) \
        if agency_ids else []
    return agencies, cells


def years_with_volumes(session: Session) -> list[int]:
    return sorted({p.year for p in session.scalars(select(ServiceVolume.period).distinct())})
