"""Changing the administrative tree: levels, units, agencies, service points, kiosks.

The CLI importer and the web administration call these functions, so every rule lives here once: codes
are unique, a unit's level ranks below its parent's, nothing is ever deleted (units, agencies and service
points are retired or merged, so past responses stay reportable under the structure they were collected
in).  Each change is written to the audit log in the caller's transaction (`audit=False` lets a bulk
caller, such as the importer, write one summary event instead); nothing here commits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.audit import record
from survey.database import utcnow
from survey.errors import N_, DomainError, register
from survey.inputs import whole_number
from survey.org.models import Agency, Kiosk, Level, ServicePoint, Unit

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
INSTRUMENT_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
NAME_MAX = 200
INVISIBLE = {"Cf", "Zl", "Zp", "Co"}  # format (zero-width, bidi), line/paragraph separators, private use
STATUSES = ("active", "retired")  # a tree file's `status` column (retired = `retired_at` set)


register({
    "code_format": N_("code '%(code)s' must be 1–32 letters, digits, '.', '_' or '-' (starting with a letter or "
                      "digit)"),
    "level_unknown": N_("unknown level '%(level)s'"),
    "level_not_below_parent": N_("level '%(level)s' (rank %(rank)d) is not below the level of parent %(parent)s "
                                 "(%(parent_level)s, rank %(parent_rank)d)"),
    "unit_code_taken": N_("duplicate code: unit '%(code)s' already exists"),
    "unit_is_root": N_("%(code)s is the root of the tree (the whole province or city): it cannot be merged or "
                       "retired"),
    "agency_kind_unknown": N_("unknown agency kind '%(kind)s' (use one of %(kinds)s)"),
    "agency_code_taken": N_("duplicate code: agency '%(code)s' already exists"),
    "instrument_id_format": N_("'%(value)s' is not a questionnaire id (lower-case letters, digits and '-')"),
    "service_point_code_taken": N_("duplicate code: service point '%(code)s' already exists"),
    "name_missing": N_("missing name"),
    "code_missing": N_("missing code"),
    "kiosk_code_taken": N_("duplicate code: kiosk '%(code)s' already exists"),
    "name_too_long": N_("longer than %(max)d characters"),
    "name_invisible": N_("holds invisible characters (zero-width spaces or text-direction marks), which change how "
                         "the name and the figures beside it read: type it again without them"),
    "parent_required": N_("a unit at level '%(level)s' needs a parent unit (only the top level has none)"),
    "unit_under_itself": N_("unit %(code)s cannot be moved under itself or its own descendant"),
    "unit_merge_itself": N_("a unit cannot be merged into itself"),
    "unit_merge_levels_differ": N_("%(code)s (%(level)s) and %(target)s (%(target_level)s) are not at the same "
                                   "level"),
    "unit_retired": N_("unit %(code)s is retired"),
    "agency_merge_itself": N_("an agency cannot be merged into itself"),
    "service_point_merge_itself": N_("a service point cannot be merged into itself"),
    "level_not_above_child": N_("level '%(level)s' is not above the level of child unit %(child)s"),
    "rank_missing": N_("missing rank (0 for the top level, 1 below it, …)"),
    "rank_not_whole": N_("rank '%(rank)s' is not a whole number ≥ 0"),
    "status_unknown": N_("unknown status '%(status)s' (use active or retired)"),
    "date_format": N_("'%(value)s' is not a date (YYYY-MM-DD)"),
})


class OrgError(DomainError):
    """A change that would break the tree's rules (survey/errors.py): `field` names the offending input
    (a form field or file column name, never translated), `message` says why in the language of whoever
    asks (English in the CLI, as docs/org-file-format.md shows)."""


# ------------------------------------------------------------------------------------------ checks
def _norm(text: str) -> str:
    """Trimmed, Unicode NFC (Vietnamese typed with different keyboards must compare equal)."""
    return unicodedata.normalize("NFC", text.strip())


# The checks below are the rules of one field each: the admin forms (through the services) and the file
# importer (survey/org/io_import.py, row by row) call the same ones, so both say the same thing.
def check_code(code: str | None, field: str = "code") -> None:
    if not code:
        raise OrgError("code_missing", field)
    if not CODE_RE.match(code):
        raise OrgError("code_format", field, code=code)


def check_name(value: str | None, field: str) -> None:
    if not value or not value.strip():
        raise OrgError("name_missing", field)
    if len(value) > NAME_MAX:
        raise OrgError("name_too_long", field, max=NAME_MAX)
    # a right-to-left override draws what follows it backwards ("Quầy 1\u202e: 85,2%" reads "%2,58 :"), a
    # zero-width space makes two names look alike: no Vietnamese or English name needs either
    if any(unicodedata.category(ch) in INVISIBLE for ch in value):
        raise OrgError("name_invisible", field)


def check_rank(rank: str | None, field: str = "rank") -> None:
    """A level's rank as written in a file: a whole number ≥ 0 ("²" passes isdigit()) that fits its column."""
    if rank is None:
        raise OrgError("rank_missing", field)
    if whole_number(rank) is None:
        raise OrgError("rank_not_whole", field, rank=rank)


def check_status(status: str, field: str = "status") -> None:
    if status not in STATUSES:
        raise OrgError("status_unknown", field, status=status)


def check_date(text: str, field: str) -> None:
    try:
        date.fromisoformat(text)
    except ValueError:
        raise OrgError("date_format", field, value=text) from None


def check_names(name_vi: str | None, name_en: str | None) -> None:
    check_name(name_vi, "name_vi")
    check_name(name_en, "name_en")


def _state(obj: Any, *names: str) -> dict[str, Any]:
    out = {}
    for n in names:
        v = getattr(obj, n)
        out[n] = v.isoformat() if isinstance(v, date | datetime) else v
    return out


_UNIT_STATE = ("code", "name_vi", "name_en", "level_code", "parent_id", "valid_from", "retired_at",
               "merged_into_id")
_AGENCY_STATE = ("code", "name_vi", "name_en", "kind", "unit_id", "retired_at")
_SP_STATE = ("code", "name_vi", "name_en", "agency_id", "kiosk_instrument", "link_instrument",
             "official_on_duty", "retired_at")


def level_rank(session: Session, level_code: str) -> int:
    level = session.get(Level, level_code)
    if level is None:
        raise OrgError("level_unknown", "level", level=level_code)
    return level.rank


def check_placement(session: Session, level_code: str, parent: Unit | None) -> None:
    """A unit's level must rank strictly below its parent's; a unit without parent is at the top level."""
    rank = level_rank(session, level_code)
    if parent is None:
        top = session.scalar(select(func.min(Level.rank)))
        if rank != top:
            raise OrgError("parent_required", "parent", level=level_code)
        return
    if rank <= parent.level.rank:
        raise OrgError("level_not_below_parent", "level", level=level_code, rank=rank, parent=parent.code,
                       parent_level=parent.level_code, parent_rank=parent.level.rank)


# ------------------------------------------------------------------------------------------ units
def unit_by_code(session: Session, code: str) -> Unit | None:
    return session.scalar(select(Unit).where(Unit.code == code))


def create_unit(session: Session, *, code: str, name_vi: str, name_en: str, level_code: str,
                parent: Unit | None = None, valid_from: date | None = None, audit: bool = True) -> Unit:
    check_code(code)
    check_names(name_vi, name_en)
    if unit_by_code(session, code) is not None:
        raise OrgError("unit_code_taken", "code", code=code)
    check_placement(session, level_code, parent)
    unit = Unit(code=code, name_vi=_norm(name_vi), name_en=_norm(name_en), level_code=level_code,
                parent=parent, valid_from=valid_from)
    session.add(unit)
    session.flush()
    if audit:
        record(session, "org.unit.create", "unit", code, after=_state(unit, *_UNIT_STATE))
    return unit


def update_unit(session: Session, unit: Unit, *, audit: bool = True, **changes: Any) -> bool:
    """Change any of name_vi, name_en, level_code, parent (a Unit or None), valid_from; True if changed."""
    before = _state(unit, *_UNIT_STATE)
    if "name_vi" in changes or "name_en" in changes:
        check_names(changes.get("name_vi", unit.name_vi), changes.get("name_en", unit.name_en))
    level_code = changes.get("level_code", unit.level_code)
    parent = changes.get("parent", unit.parent)
    if level_code != unit.level_code or parent is not unit.parent:
        if parent is not None and unit.id in {u.id for u in parent.ancestors()}:
            raise OrgError("unit_under_itself", "parent", code=unit.code)
        check_placement(session, level_code, parent)
        rank = level_rank(session, level_code)
        for child in unit.children:
            if child.level.rank <= rank:
                raise OrgError("level_not_above_child", "level", level=level_code, child=child.code)
    for name in ("name_vi", "name_en", "valid_from"):
        if name in changes:
            setattr(unit, name, _norm(changes[name]) if isinstance(changes[name], str) else changes[name])
    unit.level_code = level_code
    unit.parent = parent
    session.flush()
    after = _state(unit, *_UNIT_STATE)
    if after == before:
        return False
    if audit:
        record(session, "org.unit.update", "unit", unit.code, before=before, after=after)
    return True


def rename_unit(session: Session, unit: Unit, *, name_vi: str, name_en: str, audit: bool = True) -> bool:
    return update_unit(session, unit, name_vi=name_vi, name_en=name_en, audit=audit)


def move_unit(session: Session, unit: Unit, new_parent: Unit | None, *, audit: bool = True) -> bool:
    return update_unit(session, unit, parent=new_parent, audit=audit)


def refuse_root(unit: Unit) -> None:
    """The root unit is the whole province/city: merged or retired, the tree would have no top (and every
    comparison, stratum and report hangs from it)."""
    if unit.parent_id is None:
        raise OrgError("unit_is_root", "unit", code=unit.code)


def retire_unit(session: Session, unit: Unit, *, at: datetime | None = None, audit: bool = True) -> bool:
    """Mark the unit retired (kept for history).  Its agencies stay as they are: retire them separately."""
    if unit.retired_at is not None:
        return False
    refuse_root(unit)
    before = _state(unit, *_UNIT_STATE)
    unit.retired_at = at or utcnow()
    session.flush()
    if audit:
        record(session, "org.unit.retire", "unit", unit.code, before=before, after=_state(unit, *_UNIT_STATE))
    return True


def reactivate_unit(session: Session, unit: Unit, *, audit: bool = True) -> bool:
    if unit.retired_at is None:
        return False
    before = _state(unit, *_UNIT_STATE)
    unit.retired_at = None
    unit.merged_into_id = None
    session.flush()
    if audit:
        record(session, "org.unit.reactivate", "unit", unit.code, before=before, after=_state(unit, *_UNIT_STATE))
    return True


def merge_units(session: Session, sources: Sequence[Unit], target: Unit, *, move_agencies: bool = True,
                audit: bool = True) -> None:
    """Merge `sources` into `target` (e.g. the 2025 commune mergers).

    Each source is retired with `merged_into` = target; its active child units move under the target; its
    active agencies move to the target when `move_agencies` (the one-stop counter carries on), otherwise
    they are retired with their service points.  Responses keep pointing at the agencies they were given
    to, so history is unchanged.
    """
    for src in sources:
        refuse_root(src)
        if src.id == target.id:
            raise OrgError("unit_merge_itself", "target")
        if src.level.rank != target.level.rank:
            raise OrgError("unit_merge_levels_differ", "target", code=src.code, level=src.level_code,
                           target=target.code, target_level=target.level_code)
        if target.retired_at is not None:
            raise OrgError("unit_retired", "target", code=target.code)
    for src in sources:
        before = _state(src, *_UNIT_STATE)
        for child in list(src.children):
            if child.retired_at is None:
                update_unit(session, child, parent=target, audit=audit)
        for agency in list(src.agencies):
            if agency.retired_at is not None:
                continue
            if move_agencies:
                update_agency(session, agency, unit=target, audit=audit)
            else:
                retire_agency(session, agency, audit=audit)
        src.retired_at = src.retired_at or utcnow()
        src.merged_into_id = target.id
        session.flush()
        if audit:
            record(session, "org.unit.merge", "unit", src.code, before=before,
                   after={**_state(src, *_UNIT_STATE), "merged_into": target.code})


# ------------------------------------------------------------------------------------------ agencies
def agency_by_code(session: Session, code: str) -> Agency | None:
    return session.scalar(select(Agency).where(Agency.code == code))


def check_kind(kind: str) -> None:
    if kind not in Agency.KINDS:
        raise OrgError("agency_kind_unknown", "kind", kind=kind, kinds=", ".join(Agency.KINDS))


def create_agency(session: Session, *, code: str, name_vi: str, name_en: str, unit: Unit, kind: str = "other",
                  audit: bool = True) -> Agency:
    check_code(code)
    check_names(name_vi, name_en)
    check_kind(kind)
    if agency_by_code(session, code) is not None:
        raise OrgError("agency_code_taken", "code", code=code)
    agency = Agency(code=code, name_vi=_norm(name_vi), name_en=_norm(name_en), kind=kind, unit=unit)
    session.add(agency)
    session.flush()
    if audit:
        record(session, "org.agency.create", "agency", code, after=_state(agency, *_AGENCY_STATE))
    return agency


def update_agency(session: Session, agency: Agency, *, audit: bool = True, **changes: Any) -> bool:
    """Change any of name_vi, name_en, kind, unit (a Unit); True if something changed."""
    before = _state(agency, *_AGENCY_STATE)
    if "name_vi" in changes or "name_en" in changes:
        check_names(changes.get("name_vi", agency.name_vi), changes.get("name_en", agency.name_en))
    if "kind" in changes:
        check_kind(changes["kind"])
    for name in ("name_vi", "name_en", "kind"):
        if name in changes:
            setattr(agency, name, _norm(changes[name]))
    if "unit" in changes:
        agency.unit = changes["unit"]
    session.flush()
    after = _state(agency, *_AGENCY_STATE)
    if after == before:
        return False
    if audit:
        record(session, "org.agency.update", "agency", agency.code, before=before, after=after)
    return True


def retire_agency(session: Session, agency: Agency, *, audit: bool = True) -> bool:
    """Retire the agency and deactivate its service points (no new responses; history stays)."""
    if agency.retired_at is not None:
        return False
    before = _state(agency, *_AGENCY_STATE)
    agency.retired_at = utcnow()
    for sp in agency.service_points:
        retire_service_point(session, sp, audit=audit)
    session.flush()
    if audit:
        record(session, "org.agency.retire", "agency", agency.code, before=before,
               after=_state(agency, *_AGENCY_STATE))
    return True


def reactivate_agency(session: Session, agency: Agency, *, audit: bool = True) -> bool:
    if agency.retired_at is None:
        return False
    before = _state(agency, *_AGENCY_STATE)
    agency.retired_at = None
    session.flush()
    if audit:
        record(session, "org.agency.reactivate", "agency", agency.code, before=before,
               after=_state(agency, *_AGENCY_STATE))
    return True


def merge_agencies(session: Session, sources: Sequence[Agency], target: Agency, *, audit: bool = True) -> None:
    """Move the sources' service points to `target`, then retire the sources."""
    for src in sources:
        if src.id == target.id:
            raise OrgError("agency_merge_itself", "target")
    for src in sources:
        for sp in list(src.service_points):
            update_service_point(session, sp, agency=target, audit=audit)
        before = _state(src, *_AGENCY_STATE)
        src.retired_at = src.retired_at or utcnow()
        session.flush()
        if audit:
            record(session, "org.agency.merge", "agency", src.code, before=before,
                   after={**_state(src, *_AGENCY_STATE), "merged_into": target.code})


# ------------------------------------------------------------------------------------------ service points
def service_point_by_code(session: Session, code: str) -> ServicePoint | None:
    return session.scalar(select(ServicePoint).where(ServicePoint.code == code))


def check_instrument(value: str, field: str) -> None:
    if not INSTRUMENT_RE.match(value):
        raise OrgError("instrument_id_format", field, value=value)


def create_service_point(session: Session, *, code: str, name_vi: str, name_en: str, agency: Agency,
                         kiosk_instrument: str = "counter-quick", link_instrument: str = "sipas-2017",
                         official_on_duty: str | None = None, audit: bool = True) -> ServicePoint:
    check_code(code)
    check_names(name_vi, name_en)
    check_instrument(kiosk_instrument, "kiosk_instrument")
    check_instrument(link_instrument, "link_instrument")
    if service_point_by_code(session, code) is not None:
        raise OrgError("service_point_code_taken", "code", code=code)
    sp = ServicePoint(code=code, name_vi=_norm(name_vi), name_en=_norm(name_en), agency=agency,
                      kiosk_instrument=kiosk_instrument, link_instrument=link_instrument,
                      official_on_duty=official_on_duty)
    session.add(sp)
    session.flush()
    if audit:
        record(session, "org.service_point.create", "service_point", code, after=_state(sp, *_SP_STATE))
    return sp


def update_service_point(session: Session, sp: ServicePoint, *, audit: bool = True, **changes: Any) -> bool:
    """Change any of name_vi, name_en, agency, kiosk_instrument, link_instrument, official_on_duty, active."""
    before = _state(sp, *_SP_STATE)
    if "name_vi" in changes or "name_en" in changes:
        check_names(changes.get("name_vi", sp.name_vi), changes.get("name_en", sp.name_en))
    for name in ("kiosk_instrument", "link_instrument"):
        if name in changes:
            check_instrument(changes[name], name)
    for name in ("name_vi", "name_en", "kiosk_instrument", "link_instrument", "official_on_duty", "active"):
        if name in changes:
            value = changes[name]
            setattr(sp, name, _norm(value) if name in ("name_vi", "name_en") else value)
    if "agency" in changes:
        sp.agency = changes["agency"]
    session.flush()
    after = _state(sp, *_SP_STATE)
    if after == before:
        return False
    if audit:
        record(session, "org.service_point.update", "service_point", sp.code, before=before, after=after)
    return True


def retire_service_point(session: Session, sp: ServicePoint, *, audit: bool = True) -> bool:
    """Stop accepting responses at this service point (kept for history)."""
    return update_service_point(session, sp, active=False, audit=audit)


def reactivate_service_point(session: Session, sp: ServicePoint, *, audit: bool = True) -> bool:
    """Accept responses here again (its kiosks keep their credentials; revoke them separately)."""
    return update_service_point(session, sp, active=True, audit=audit)


def merge_service_points(session: Session, sources: Sequence[ServicePoint], target: ServicePoint, *,
                         audit: bool = True) -> None:
    """Move the sources' kiosks to `target`, then retire the sources."""
    for src in sources:
        if src.id == target.id:
            raise OrgError("service_point_merge_itself", "target")
    for src in sources:
        for kiosk in list(src.kiosks):
            update_kiosk(session, kiosk, service_point=target, audit=audit)
        retire_service_point(session, src, audit=audit)
        if audit:
            record(session, "org.service_point.merge", "service_point", src.code, after={"merged_into": target.code})


# ------------------------------------------------------------------------------------------ kiosks
def kiosk_by_code(session: Session, code: str) -> Kiosk | None:
    return session.scalar(select(Kiosk).where(Kiosk.code == code))


def create_kiosk(session: Session, *, code: str, name: str, service_point: ServicePoint,
                 audit: bool = True) -> Kiosk:
    """A kiosk record without credentials (enrol it with `flask kiosks` / the admin pages)."""
    check_code(code)
    if not name or not _norm(name):
        raise OrgError("name_missing", "name")
    if kiosk_by_code(session, code) is not None:
        raise OrgError("kiosk_code_taken", "code", code=code)
    kiosk = Kiosk(code=code, name=_norm(name), service_point=service_point)
    session.add(kiosk)
    session.flush()
    if audit:
        record(session, "org.kiosk.create", "kiosk", code, after={"name": name, "service_point": service_point.code})
    return kiosk


def update_kiosk(session: Session, kiosk: Kiosk, *, audit: bool = True, **changes: Any) -> bool:
    before = {"name": kiosk.name, "service_point": kiosk.service_point.code}
    if "name" in changes:
        if not changes["name"] or not changes["name"].strip():
            raise OrgError("name_missing", "name")
        kiosk.name = _norm(changes["name"])
    if "service_point" in changes:
        kiosk.service_point = changes["service_point"]
    session.flush()
    after = {"name": kiosk.name, "service_point": kiosk.service_point.code}
    if after == before:
        return False
    if audit:
        record(session, "org.kiosk.update", "kiosk", kiosk.code, before=before, after=after)
    return True
