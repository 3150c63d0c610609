"""Tree levels are data: a two-tier city (city → commune, the 2025 structure) has no district level, and the
Home Affairs page compares communes, with the same figures as the analysis package."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest

from survey.auth.models import User
from survey.auth.passwords import hash_password
from survey.database import utcnow
from survey.org.models import Agency, Level, ServicePoint, Unit
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.store import Submission, store_response
from survey.results.tree import placements
from tests.dashboard.hakit import latest_quarter, login, read_csv, reference, use_language
from tests.factories import PASSWORD, load_shipped_questionnaires
from tests.results.factories import DEFAULT_NOW, fix_clock, respondent_frame


@pytest.fixture
def two_tier(app, db_session):
    fix_clock(app, DEFAULT_NOW)  # the responses of the last 35 minutes stay in one quarter whatever the day
    s = db_session
    s.add_all([Level(code="city", rank=0, name_vi="Thành phố", name_en="City"),
               Level(code="commune", rank=1, name_vi="Xã/Phường", name_en="Commune")])
    s.flush()
    root = Unit(code="CT", name_vi="Thành phố Cần Thơ", name_en="Can Tho City", level_code="city")
    s.add(root)
    s.flush()
    qv = load_shipped_questionnaires(s)["counter-quick"]
    q, _ = questionnaire_for(s, qv.id)
    rng = random.Random(5)
    now = DEFAULT_NOW
    for i, code in enumerate(["P1", "P2", "P3"]):
        unit = Unit(code=code, name_vi=f"Phường {code}", name_en=f"Ward {code}", level_code="commune",
                    parent_id=root.id)
        s.add(unit)
        s.flush()
        agency = Agency(code=f"UB-{code}", name_vi=f"UBND phường {code}", name_en=f"Ward {code} PC",
                        unit_id=unit.id)
        s.add(agency)
        s.flush()
        for j in range(2):
            sp = ServicePoint(code=f"UB-{code}-SP{j}", name_vi=f"Một cửa {code}{j}", name_en=f"Desk {code}{j}",
                              agency_id=agency.id)
            s.add(sp)
            s.flush()
            for k in range(35):
                answers = {it.code: (it.values[-1] if rng.random() < 0.5 + 0.15 * i else it.values[0])
                           for it in q.items() if it.type == "scale"}
                store_response(s, Submission(service_point_id=sp.id, questionnaire_version_id=qv.id,
                                             answers=answers, channel="web",
                                             client_id=str(uuid.UUID(int=rng.getrandbits(128))),
                                             submitted_at=now - timedelta(minutes=k)), commit=False)
    s.add(User(username="noivu", display_name="noivu", password_hash=hash_password(PASSWORD),
               role="home_affairs", created_at=utcnow()))
    s.commit()
    return qv.id


def test_two_tier_city_compares_communes_and_has_no_district_level(client, db_session, two_tier):
    login(client, "noivu")
    use_language(client, "en")
    html = client.get("/homeaffairs/").get_data(as_text=True)
    assert '<option value="commune" selected>' in html
    assert 'value="district"' not in html
    # a level the city does not have (a bookmark from before the two-tier reform) is refused, naming those it has
    resp = client.get("/homeaffairs/?level=district")
    assert resp.status_code == 400 and "Use one of: commune, agency." in resp.get_data(as_text=True)

    frame = respondent_frame(db_session, two_tier)
    places = placements(db_session)
    frame["commune"] = [places[sp].levels.get("commune", "") for sp in frame["sp_id"]]
    q, _ = questionnaire_for(db_session, two_tier)
    _t, ref = reference(frame, q.index_spec(), ("commune",), latest_quarter(frame))
    ref = ref[ref["measure"] == "OVERALL"].set_index("domain")
    rows = {r["Commune"]: r for r in read_csv(client.get("/homeaffairs/export.csv?table=estimates"))}
    assert set(rows) == {f"Ward {c}" for c in ref.index}
    for code, rec in ref.iterrows():
        assert float(rows[f"Ward {code}"]["Estimate"]) == pytest.approx(float(rec["estimate"]), rel=1e-12)
        assert int(rows[f"Ward {code}"]["n"]) == int(rec["n"])
