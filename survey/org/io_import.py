"""Importing and exporting the administrative tree: check every row first, then upsert by code.

Rows are checked against the tree the import would produce (the database overlaid with the file), so a
file may refer to units already stored and to units defined further down in itself.  Every problem is
collected; if there is any, nothing is written.  Importing the same file again changes nothing (each
entity is matched by its code and only differing fields are written), and a file exported with
`org export` imports back unchanged.  An empty optional cell keeps the stored value.

Problems are the `RowError`s every import lists (survey/uploads.py: line, field as written, problem), worded
in the requesting user's language on the admin pages and in English on the CLI (survey/org/messages.py);
the report's `lines()` are only printed by the CLI and stay English.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.audit import record
from survey.inputs import whole_number
from survey.org import service as svc
from survey.org.io import PARENT_FIELD, OrgFileError, Row, read_file, to_csv, to_yaml
from survey.org.messages import N_, _
from survey.org.models import Agency, Kiosk, Level, ServicePoint, Unit
from survey.uploads import RowError

_PLURAL = {"level": "levels", "unit": "units", "agency": "agencies", "service_point": "service points",
           "kiosk": "kiosks"}
# what holds an agency, service point or kiosk: whole sentences per kind, for the translators
_MISSING_CONTAINER = {
    "agency": N_("missing unit: a new agency needs the code of its unit"),
    "service_point": N_("missing agency: a new service point needs the code of its agency"),
    "kiosk": N_("missing service point: a new kiosk needs the code of its service point"),
}
_UNKNOWN_CONTAINER = {
    "agency": N_("unknown unit '%(code)s' (not in this file or the database)"),
    "service_point": N_("unknown agency '%(code)s' (not in this file or the database)"),
    "kiosk": N_("unknown service point '%(code)s' (not in this file or the database)"),
}


@dataclass
class ImportReport:
    """What an import did, per kind of entity: created / updated / unchanged counts and codes."""

    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    changed: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, kind: str, code: str, outcome: str) -> None:
        self.counts[kind][outcome] += 1
        if outcome != "unchanged":
            self.changed[outcome].append(f"{kind}:{code}")

    @property
    def total(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for c in self.counts.values():
            out.update(c)
        return out

    def lines(self) -> list[str]:
        out = []
        for kind in _PLURAL:
            c = self.counts.get(kind)
            if c:
                out.append(f"{_PLURAL[kind]}: {c['created']} created, {c['updated']} updated, "
                           f"{c['unchanged']} unchanged")
        t = self.total
        out.append(f"total: {t['created']} created, {t['updated']} updated, {t['unchanged']} unchanged")
        return out


# ------------------------------------------------------------------------------------------ row checks
def _rule(row: Row, errors: list[RowError], check: Callable[..., None], *args: Any) -> None:
    """One of the service's field checks (the forms' rules, survey/org/service.py), as a row error."""
    try:
        check(*args)
    except svc.OrgError as exc:
        errors.append(row.error(exc.field or "", exc.message))


def _check_row(row: Row, errors: list[RowError]) -> None:
    f = row.fields
    _rule(row, errors, svc.check_code, f.get("code"))
    for name in ("name",) if row.kind == "kiosk" else ("name_vi", "name_en"):
        _rule(row, errors, svc.check_name, f.get(name), name)
    if row.kind == "level":
        _rule(row, errors, svc.check_rank, f.get("rank"))
    if row.kind == "agency" and f.get("kind"):
        _rule(row, errors, svc.check_kind, f["kind"])
    if row.kind == "service_point":
        for name in ("kiosk_instrument", "link_instrument"):
            if f.get(name):
                _rule(row, errors, svc.check_instrument, f[name], name)
    if f.get("status"):
        _rule(row, errors, svc.check_status, f["status"])
    if f.get("valid_from"):
        _rule(row, errors, svc.check_date, f["valid_from"], "valid_from")


class _Plan:
    """The database's tree overlaid with the file's rows (codes only), for the cross-row checks."""

    def __init__(self, session: Session, rows: list[Row]):
        self.session = session
        self.rows = rows
        self.level_rank: dict[str, int] = dict(session.execute(select(Level.code, Level.rank)).all())
        self.db_units = {code: (level, parent) for code, level, parent in session.execute(
            select(Unit.code, Unit.level_code, _parent_code()).outerjoin_from(
                Unit, _ParentUnit, Unit.parent_id == _ParentUnit.c.id))}
        self.db_agencies = set(session.scalars(select(Agency.code)))
        self.db_sps = set(session.scalars(select(ServicePoint.code)))
        self.first: dict[tuple[str, str], Row] = {}

    def check(self) -> list[RowError]:
        errors: list[RowError] = []
        for row in self.rows:
            _check_row(row, errors)
            if row.code:
                key = (row.kind, row.code)
                if key in self.first:
                    errors.append(row.error("code", _("duplicate code '%(code)s' (first on line %(line)d)",
                                                      code=row.code, line=self.first[key].line)))
                else:
                    self.first[key] = row
        file_rows = {k: r for k, r in self.first.items()}
        # levels: file ranks override stored ones; ranks must stay unique
        for (kind, code), row in file_rows.items():
            if kind == "level" and (rank := whole_number(row.fields.get("rank") or "")) is not None:
                self.level_rank[code] = rank
        by_rank: dict[int, list[str]] = defaultdict(list)
        for code, rank in self.level_rank.items():
            by_rank[rank].append(code)
        for (kind, code), row in file_rows.items():
            if kind == "level" and code in self.level_rank and len(by_rank[self.level_rank[code]]) > 1:
                others = ", ".join(c for c in sorted(by_rank[self.level_rank[code]]) if c != code)
                errors.append(row.error("rank", _("rank %(rank)d is also the rank of level %(levels)s",
                                                  rank=self.level_rank[code], levels=others)))
        top = min(self.level_rank.values(), default=0)
        # units: effective level and parent (file value, else the stored one)
        units = dict(self.db_units)
        for (kind, code), row in file_rows.items():
            if kind == "unit":
                level, parent = self.db_units.get(code, (None, None))
                units[code] = (row.fields.get("level") or level, row.parent or parent)
        for (kind, code), row in file_rows.items():
            if kind != "unit":
                continue
            level, parent = units[code]
            if level is None:
                errors.append(row.error("level", _("missing level")))
            elif level not in self.level_rank:
                known = ", ".join(sorted(self.level_rank, key=self.level_rank.__getitem__))
                errors.append(row.error("level", _("unknown level '%(level)s' (levels: %(levels)s)", level=level,
                                                   levels=known)))
            if parent is not None and parent not in units:
                errors.append(row.error("parent", _("unknown parent unit '%(code)s' (not in this file or the "
                                                    "database)", code=parent)))
            if level not in self.level_rank:
                continue
            rank = self.level_rank[level]
            if parent is None:
                if rank != top:
                    errors.append(row.error("parent", _("missing parent: a unit at level '%(level)s' needs a parent "
                                                        "unit (only the top level has none)", level=level)))
            elif parent in units and units[parent][0] in self.level_rank:
                plevel = units[parent][0]
                prank = self.level_rank[plevel]
                if rank <= prank:
                    errors.append(row.error("level", _("level '%(level)s' (rank %(rank)d) is not below the level "
                                                       "of parent unit %(parent)s (%(parent_level)s, rank "
                                                       "%(parent_rank)d)", level=level, rank=rank, parent=parent,
                                                       parent_level=plevel, parent_rank=prank)))
        # stored children of units the file changes must still rank below them
        for code, (level, parent) in self.db_units.items():
            prow = file_rows.get(("unit", parent)) if parent else None
            if prow is None or ("unit", code) in file_rows:
                continue
            plevel = units[parent][0]
            if level in self.level_rank and plevel in self.level_rank and \
                    self.level_rank[level] <= self.level_rank[plevel]:
                errors.append(prow.error("level", _("level '%(level)s' is not above the level of its stored "
                                                    "child unit %(child)s (%(child_level)s)", level=plevel,
                                                    child=code, child_level=level)))
        # a changed level rank must not turn stored units upside down
        level_rows = {code: row for (kind, code), row in file_rows.items() if kind == "level"}
        reported: set[str] = set()
        for code, (level, parent) in units.items():
            if ("unit", code) in file_rows or parent is None or parent not in units:
                continue
            plevel = units[parent][0]
            if level not in self.level_rank or plevel not in self.level_rank:
                continue
            if self.level_rank[level] <= self.level_rank[plevel]:
                for lv in (level, plevel):
                    if lv in level_rows and lv not in reported:
                        reported.add(lv)
                        message = _("this rank would put stored unit %(code)s (%(level)s) at or above its "
                                    "parent %(parent)s (%(parent_level)s)", code=code, level=level,
                                    parent=parent, parent_level=plevel)
                        errors.append(level_rows[lv].error("rank", message))
        # agencies, service points, kiosks: their container must exist
        agencies = self.db_agencies | {c for k, c in file_rows if k == "agency"}
        sps = self.db_sps | {c for k, c in file_rows if k == "service_point"}
        containers: dict[str, Any] = {"agency": units, "service_point": agencies, "kiosk": sps}
        stored = {"agency": self.db_agencies, "service_point": self.db_sps,
                  "kiosk": set(self.session.scalars(select(Kiosk.code)))}
        for (kind, code), row in file_rows.items():
            if kind not in containers:
                continue
            pf = PARENT_FIELD[kind]
            if row.parent is None:
                if code not in stored[kind]:
                    errors.append(row.error(pf, _(_MISSING_CONTAINER[kind])))
            elif row.parent not in containers[kind]:
                errors.append(row.error(pf, _(_UNKNOWN_CONTAINER[kind], code=row.parent)))
        return sorted(set(errors))


_ParentUnit = Unit.__table__.alias("parent_unit")


def _parent_code() -> Any:
    return _ParentUnit.c.code


# ------------------------------------------------------------------------------------------ applying
def _status_change(row: Row, retired: bool) -> bool | None:
    """True → retire, False → reactivate, None → nothing to do."""
    status = row.fields.get("status")
    if status == "retired" and not retired:
        return True
    if status == "active" and retired:
        return False
    return None


def _apply(session: Session, rows: list[Row], report: ImportReport, level_rank: dict[str, int]) -> None:
    rows_by_kind: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        rows_by_kind[row.kind].append(row)
    _apply_levels(session, rows_by_kind["level"], report)
    units = {u.code: u for u in session.scalars(select(Unit))}

    def unit_rank(row: Row) -> int:
        level = row.fields.get("level") or units[row.code or ""].level_code
        return level_rank[level]

    for row in sorted(rows_by_kind["unit"], key=unit_rank):
        f, code = row.fields, row.code or ""
        parent = units[row.parent] if row.parent else None
        unit = units.get(code)
        valid_from = date.fromisoformat(text) if (text := f.get("valid_from")) else None
        if unit is None:
            unit = svc.create_unit(session, code=code, name_vi=f["name_vi"] or "", name_en=f["name_en"] or "",
                                   level_code=f["level"] or "", parent=parent, valid_from=valid_from, audit=False)
            units[code] = unit
            if f.get("status") == "retired":
                svc.retire_unit(session, unit, audit=False)
            report.add("unit", code, "created")
            continue
        changes: dict[str, Any] = {"name_vi": f["name_vi"], "name_en": f["name_en"]}
        if f.get("level"):
            changes["level_code"] = f["level"]
        if parent is not None:
            changes["parent"] = parent
        if valid_from is not None:
            changes["valid_from"] = valid_from
        changed = svc.update_unit(session, unit, audit=False, **changes)
        status = _status_change(row, unit.retired_at is not None)
        if status is True:
            changed |= svc.retire_unit(session, unit, audit=False)
        elif status is False:
            changed |= svc.reactivate_unit(session, unit, audit=False)
        report.add("unit", code, "updated" if changed else "unchanged")

    agencies = {a.code: a for a in session.scalars(select(Agency))}
    for row in rows_by_kind["agency"]:
        f, code = row.fields, row.code or ""
        agency = agencies.get(code)
        if agency is None:
            agency = svc.create_agency(session, code=code, name_vi=f["name_vi"] or "", name_en=f["name_en"] or "",
                                       unit=units[row.parent or ""], kind=f.get("kind") or "other", audit=False)
            agencies[code] = agency
            if f.get("status") == "retired":
                svc.retire_agency(session, agency, audit=False)
            report.add("agency", code, "created")
            continue
        changes = {"name_vi": f["name_vi"], "name_en": f["name_en"]}
        if f.get("kind"):
            changes["kind"] = f["kind"]
        if row.parent:
            changes["unit"] = units[row.parent]
        changed = svc.update_agency(session, agency, audit=False, **changes)
        status = _status_change(row, agency.retired_at is not None)
        if status is True:
            changed |= svc.retire_agency(session, agency, audit=False)
        elif status is False:
            changed |= svc.reactivate_agency(session, agency, audit=False)
        report.add("agency", code, "updated" if changed else "unchanged")

    sps = {s.code: s for s in session.scalars(select(ServicePoint))}
    for row in rows_by_kind["service_point"]:
        f, code = row.fields, row.code or ""
        sp = sps.get(code)
        optional = {k: v for k in ("kiosk_instrument", "link_instrument", "official_on_duty") if (v := f.get(k))}
        if sp is None:
            sp = svc.create_service_point(session, code=code, name_vi=f["name_vi"] or "", name_en=f["name_en"] or "",
                                          agency=agencies[row.parent or ""], audit=False, **optional)
            sps[code] = sp
            if f.get("status") == "retired":
                svc.retire_service_point(session, sp, audit=False)
            report.add("service_point", code, "created")
            continue
        changes = {"name_vi": f["name_vi"], "name_en": f["name_en"], **optional}
        if row.parent:
            changes["agency"] = agencies[row.parent]
        if f.get("status"):
            changes["active"] = f["status"] == "active"
        changed = svc.update_service_point(session, sp, audit=False, **changes)
        report.add("service_point", code, "updated" if changed else "unchanged")

    kiosks = {k.code: k for k in session.scalars(select(Kiosk))}
    for row in rows_by_kind["kiosk"]:
        f, code = row.fields, row.code or ""
        kiosk = kiosks.get(code)
        if kiosk is None:
            kiosks[code] = svc.create_kiosk(session, code=code, name=f["name"] or "",
                                            service_point=sps[row.parent or ""], audit=False)
            report.add("kiosk", code, "created")
            continue
        kchanges: dict[str, Any] = {"name": f["name"]}
        if row.parent:
            kchanges["service_point"] = sps[row.parent]
        changed = svc.update_kiosk(session, kiosk, audit=False, **kchanges)
        report.add("kiosk", code, "updated" if changed else "unchanged")


def _apply_levels(session: Session, rows: list[Row], report: ImportReport) -> None:
    levels = {lv.code: lv for lv in session.scalars(select(Level))}
    moving = [r for r in rows if r.code in levels and levels[r.code or ""].rank != int(r.fields["rank"] or 0)]
    for i, row in enumerate(moving):  # park changed ranks first: ranks are unique, swaps must not collide
        levels[row.code or ""].rank = -1 - i
    session.flush()
    for row in rows:
        f, code = row.fields, row.code or ""
        level = levels.get(code)
        rank = int(f["rank"] or 0)
        if level is None:
            session.add(Level(code=code, rank=rank, name_vi=f["name_vi"], name_en=f["name_en"]))
            report.add("level", code, "created")
            continue
        changed = row in moving or level.name_vi != f["name_vi"] or level.name_en != f["name_en"]
        level.rank, level.name_vi, level.name_en = rank, f["name_vi"] or "", f["name_en"] or ""
        report.add("level", code, "updated" if changed else "unchanged")
    session.flush()


def import_rows(session: Session, rows: list[Row], source: str, errors: list[RowError] | None = None
                ) -> ImportReport:
    """Check every row, then upsert them all; raises OrgFileError (nothing written) on any problem.

    `errors` are problems the reader already found (reported together with these checks).  Does not
    commit: the caller commits (or rolls back) the whole import as one transaction.
    """
    plan = _Plan(session, rows)
    errors = sorted({*(errors or []), *plan.check()})
    if errors:
        raise OrgFileError(source, errors)
    report = ImportReport()
    try:
        with session.begin_nested():
            _apply(session, rows, report, plan.level_rank)
    except svc.OrgError as exc:  # a rule only the service layer knows; still nothing written
        raise OrgFileError(source, [RowError(0, exc.field or "", exc.message)]) from exc
    if report.changed:
        record(session, "org.import", "org_file", Path(source).name[:64],
               after={"file": source, "counts": {k: dict(v) for k, v in report.counts.items()},
                      "created": report.changed.get("created", []), "updated": report.changed.get("updated", [])})
    return report


# ------------------------------------------------------------------------------------------ export
def _unit_fields(u: Unit) -> dict[str, Any]:
    return {"code": u.code, "level": u.level_code, "name_vi": u.name_vi, "name_en": u.name_en,
            "parent": u.parent.code if u.parent else None,
            "valid_from": u.valid_from.isoformat() if u.valid_from else None,
            "status": "retired" if u.retired_at else "active"}


def _agency_fields(a: Agency) -> dict[str, Any]:
    return {"code": a.code, "kind": a.kind, "name_vi": a.name_vi, "name_en": a.name_en, "unit": a.unit.code,
            "status": "retired" if a.retired_at else "active"}


def _sp_fields(s: ServicePoint) -> dict[str, Any]:
    return {"code": s.code, "name_vi": s.name_vi, "name_en": s.name_en, "agency": s.agency.code,
            "kiosk_instrument": s.kiosk_instrument, "link_instrument": s.link_instrument,
            "official_on_duty": s.official_on_duty, "status": "active" if s.active else "retired"}


def _kiosk_fields(k: Kiosk) -> dict[str, Any]:
    return {"code": k.code, "name": k.name, "service_point": k.service_point.code}


def _levels(session: Session) -> list[dict[str, Any]]:
    return [{"code": lv.code, "rank": lv.rank, "name_vi": lv.name_vi, "name_en": lv.name_en}
            for lv in session.scalars(select(Level).order_by(Level.rank))]


def _roots(session: Session) -> list[Unit]:
    return list(session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.code)))


def export_csv(session: Session) -> str:
    """The whole tree as flat CSV (levels, then each unit followed by its agencies and child units)."""
    rows: list[tuple[str, dict[str, Any]]] = [("level", lv) for lv in _levels(session)]

    def walk(unit: Unit) -> None:
        rows.append(("unit", _unit_fields(unit)))
        for agency in unit.agencies:
            rows.append(("agency", _agency_fields(agency)))
            for sp in agency.service_points:
                rows.append(("service_point", _sp_fields(sp)))
                rows.extend(("kiosk", _kiosk_fields(k)) for k in sp.kiosks)
        for child in unit.children:
            walk(child)

    for root in _roots(session):
        walk(root)
    return to_csv(rows)


def _drop(fields: dict[str, Any], *names: str) -> dict[str, Any]:
    out = {k: v for k, v in fields.items() if k not in names and v is not None}
    if out.get("status") == "active":
        del out["status"]
    return out


def export_yaml(session: Session) -> str:
    """The whole tree as nested YAML (parents implied by nesting; `status` only where retired)."""

    def unit_doc(unit: Unit) -> dict[str, Any]:
        doc = _drop(_unit_fields(unit), "parent")
        if unit.agencies:
            doc["agencies"] = []
            for agency in unit.agencies:
                adoc = _drop(_agency_fields(agency), "unit")
                if agency.service_points:
                    adoc["service_points"] = []
                    for sp in agency.service_points:
                        sdoc = _drop(_sp_fields(sp), "agency")
                        if sp.kiosks:
                            sdoc["kiosks"] = [_drop(_kiosk_fields(k), "service_point") for k in sp.kiosks]
                        adoc["service_points"].append(sdoc)
                doc["agencies"].append(adoc)
        if unit.children:
            doc["units"] = [unit_doc(c) for c in unit.children]
        return doc

    return to_yaml(_levels(session), [unit_doc(r) for r in _roots(session)])


def import_file(session: Session, path: str | Path, fmt: str | None = None) -> ImportReport:
    """Read and import one file (see import_rows); raises OrgFileError listing every problem."""
    rows, errors = read_file(path, fmt)
    return import_rows(session, rows, str(path), errors)
