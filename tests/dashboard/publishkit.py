"""A city with enough communes to rank, responses in chosen quarters, and a fixed clock: the fixtures of the
"published figures" tests (issue 12 §1).  Nothing here depends on today's date."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from survey.org.models import Agency, ServicePoint, Unit
from tests.dashboard.displaykit import add_responses
from tests.db_snapshots import built_once
from tests.factories import City, city_from_ids, city_ids, small_city

#: 15 February 2023 (Vietnam time): 2023-Q1 is not over, 2022-Q4 is the latest complete quarter
TODAY = datetime(2023, 2, 15, 3, 0, tzinfo=UTC)
N_MIN = 10
NEW_COMMUNES = {"NK": ("NK-AH", "NK-XK", "NK-CA"), "BT": ("BT-LH", "BT-TT")}


@dataclass
class PublishCity:
    city: City
    qv_id: int

    def sp(self, agency_code: str) -> int:
        return self.city.service_points[f"{agency_code}-SP1"].id

    @property
    def communes(self) -> list[str]:
        """Agency codes of the commune people's committees (one service point each)."""
        return sorted(c for c in self.city.agencies if c.count("-") == 2)


def publish_city(session: Session) -> PublishCity:
    """small_city + five more communes (seven in all, four in Ninh Kiều), each with a people's committee."""
    city = small_city(session)
    for district, codes in NEW_COMMUNES.items():
        parent = city.units[district]
        for code in codes:
            unit = Unit(code=code, name_vi=f"Phường {code}", name_en=f"Ward {code}", level_code="commune",
                        parent_id=parent.id)
            session.add(unit)
            session.flush()
            city.units[code] = unit
            ag = Agency(code=f"UBND-{code}", name_vi=f"UBND phường {code}", name_en=f"{code} People's Committee",
                        kind="people_committee", unit_id=unit.id)
            session.add(ag)
            session.flush()
            city.agencies[ag.code] = ag
            sp = ServicePoint(code=f"{ag.code}-SP1", name_vi=f"Một cửa {code}", name_en=f"Desk {code}",
                              agency_id=ag.id)
            session.add(sp)
            session.flush()
            city.service_points[sp.code] = sp
    session.commit()
    return PublishCity(city, city.questionnaires["counter-quick"].id)


def fill(session: Session, data: PublishCity, agencies: Iterable[str], count: int, when: datetime,
         seed: int = 1) -> None:
    """`count` responses at each agency's service point, dated `when` (satisfaction varies by agency)."""
    for i, code in enumerate(sorted(agencies)):
        add_responses(session, data.qv_id, data.sp(code), count, when, good=0.45 + 0.06 * (i % 7), seed=seed)


def standard_history(session: Session, data: PublishCity) -> None:
    """2022-Q3 and 2022-Q4: every commune and district agency has 12 responses (≥ N_MIN); the unfinished
    2023-Q1: Tân An 12, the other communes 2 each (like a new structure where most units just started)."""
    everyone = [c for c in data.city.agencies if c != "STP"] + ["STP"]
    fill(session, data, everyone, 12, datetime(2022, 8, 10, 3, tzinfo=UTC), seed=3)
    fill(session, data, everyone, 12, datetime(2022, 11, 10, 3, tzinfo=UTC), seed=4)
    fill(session, data, ["UBND-NK-TA"], 12, datetime(2023, 1, 20, 3, tzinfo=UTC), seed=5)
    fill(session, data, [c for c in data.communes if c != "UBND-NK-TA"], 2, datetime(2023, 1, 20, 3, tzinfo=UTC),
         seed=6)


def published_history(session: Session) -> PublishCity:
    """publish_city + standard_history, built once per test process, database state and settings (the clock
    included), then copied (tests/db_snapshots.py): ~310 responses through store_response per test otherwise."""

    def build() -> PublishCity:
        data = publish_city(session)
        standard_history(session, data)
        return data

    return built_once(session, ("published_history",), build, lambda d: (city_ids(d.city), d.qv_id),
                      lambda s, ids: PublishCity(city_from_ids(s, ids[0]), ids[1]))


PERCENT = re.compile(r"(?<![\w.,–])(\d{1,3}(?:[.,]\d+)?)\s?%")
#: interval levels and fixed wording, not figures: "95% CI", "99,8%", "within 0–100%" (the – excludes it)
LEVEL_WORDS = {"95", "99,8", "99.8"}


def percentages(text: str) -> list[str]:
    """Every percentage number in a text except confidence levels (95%, 99.8%)."""
    return [m.group(0) for m in PERCENT.finditer(text) if m.group(1) not in LEVEL_WORDS]
