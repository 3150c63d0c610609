"""Small, explicit test data: a two-district city with agencies, service points, the shipped questionnaires
and one user per role.  Import it from any test (`from tests.factories import small_city`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from questionnaires.loader import load_file, shipped
from questionnaires.model import Questionnaire
from survey.auth.models import User
from survey.auth.passwords import hash_password
from survey.database import utcnow
from survey.org.models import Agency, Level, ServicePoint, Unit
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.questionnaire_versions.service import store_questionnaire
from tests.db_snapshots import built_once

PASSWORD = "correct horse battery"


@dataclass
class City:
    units: dict[str, Unit] = field(default_factory=dict)
    agencies: dict[str, Agency] = field(default_factory=dict)
    service_points: dict[str, ServicePoint] = field(default_factory=dict)
    questionnaires: dict[str, QuestionnaireVersion] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)


@lru_cache(maxsize=1)
def _shipped_questionnaires() -> tuple[Questionnaire, ...]:
    """Parsed once per test run: schema validation of the shipped files is the slow part."""
    return tuple(load_file(path) for path in shipped())


def load_shipped_questionnaires(session: Session) -> dict[str, QuestionnaireVersion]:
    out = {}
    for q in _shipped_questionnaires():
        outcome = store_questionnaire(session, q)
        out[outcome.record.instrument] = outcome.record
    return out


def small_city(session: Session) -> City:
    """City CT → districts NK, BT → communes; agencies at each level; one service point per agency.

    Built once per test process and database state, then copied (tests/db_snapshots.py)."""
    return built_once(session, ("small_city",), lambda: _build_small_city(session), city_ids, city_from_ids)


#: what a City holds, by its field: the model of its values
_CITY_MODELS = {"units": Unit, "agencies": Agency, "service_points": ServicePoint,
                "questionnaires": QuestionnaireVersion, "users": User}


def city_ids(city: City) -> dict[str, dict[str, int]]:
    """The ids of everything in `city` (what a database copy needs to give the same City again)."""
    return {name: {code: obj.id for code, obj in getattr(city, name).items()} for name in _CITY_MODELS}


def city_from_ids(session: Session, ids: dict[str, dict[str, int]]) -> City:
    """The City of `city_ids`, its objects read from `session`."""
    city = City()
    for name, model in _CITY_MODELS.items():
        loaded = {obj.id: obj for obj in session.scalars(select(model).where(model.id.in_(list(ids[name].values()))))}
        found = {code: loaded.get(id_) for code, id_ in ids[name].items()}  # one query per model, not per object
        assert all(obj is not None for obj in found.values()), f"{name} missing from the copied database"
        setattr(city, name, found)
    return city


def _build_small_city(session: Session) -> City:
    city = City()
    for rank, (code, vi, en) in enumerate([("city", "Thành phố", "City"), ("district", "Quận/Huyện", "District"),
                                           ("commune", "Xã/Phường", "Commune")]):
        session.add(Level(code=code, rank=rank, name_vi=vi, name_en=en))
    session.flush()

    def unit(code: str, vi: str, en: str, level: str, parent: Unit | None) -> Unit:
        u = Unit(code=code, name_vi=vi, name_en=en, level_code=level, parent_id=parent.id if parent else None)
        session.add(u)
        session.flush()
        city.units[code] = u
        return u

    ct = unit("CT", "Thành phố Cần Thơ", "Can Tho City", "city", None)
    nk = unit("NK", "Quận Ninh Kiều", "Ninh Kieu District", "district", ct)
    bt = unit("BT", "Quận Bình Thủy", "Binh Thuy District", "district", ct)
    unit("NK-TA", "Phường Tân An", "Tan An Ward", "commune", nk)
    unit("BT-BT", "Phường Bình Thủy", "Binh Thuy Ward", "commune", bt)

    def agency(code: str, vi: str, en: str, kind: str, u: Unit) -> Agency:
        a = Agency(code=code, name_vi=vi, name_en=en, kind=kind, unit_id=u.id)
        session.add(a)
        session.flush()
        city.agencies[code] = a
        sp = ServicePoint(code=f"{code}-SP1", name_vi=f"Bộ phận Một cửa {vi}", name_en=f"One-stop desk {en}",
                          agency_id=a.id)
        session.add(sp)
        session.flush()
        city.service_points[sp.code] = sp
        return a

    agency("STP", "Sở Tư pháp", "Department of Justice", "department", ct)
    agency("UBND-NK", "UBND quận Ninh Kiều", "Ninh Kieu People's Committee", "people_committee", nk)
    agency("UBND-BT", "UBND quận Bình Thủy", "Binh Thuy People's Committee", "people_committee", bt)
    agency("UBND-NK-TA", "UBND phường Tân An", "Tan An People's Committee", "people_committee",
           city.units["NK-TA"])

    city.questionnaires = load_shipped_questionnaires(session)
    for username, role, agency_code, unit_code in [
        ("admin", "admin", None, None), ("noivu", "home_affairs", None, None),
        ("ninhkieu", "unit_manager", None, "NK"), ("tuphap", "agency_viewer", "STP", None),
    ]:
        user = User(username=username, display_name=username, password_hash=hash_password(PASSWORD), role=role,
                    agency_id=city.agencies[agency_code].id if agency_code else None,
                    unit_id=city.units[unit_code].id if unit_code else None, created_at=utcnow())
        session.add(user)
        city.users[username] = user
    session.commit()
    return city
