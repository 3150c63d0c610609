"""Across measures: an element is the mean of its items' shares, so its figure and the node's other items gave the
one item the protection hides (attacker pass, 7 Dec 2026) — closed by survey/results/protection.across_measures.

When items are answered by different numbers of respondents (optional items, "no opinion"), each measure's own
decision differs: below (SIPAS), under the Department of Justice, desk Z is hidden on item E4.1 (to protect desk
Y, n = 5) but its element E4 = (E4.1 + E4.2 + E4.3) / 3 was shown beside E4.2 and E4.3; so Z's E4.1 share was
3 x E4 − E4.2 − E4.3, and the Department's E4.1 minus desks X and Z was desk Y's (n = 5), exactly.  Now a
composite is shown only where each of its items is (docs/methodology-design.md, "Across measures"); with the rule
switched off the same reader recovers desk Y (the self-test below), so the check can fail."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from survey.org.models import ServicePoint
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.store import Submission, store_response
from tests.dashboard.hakit import login, use_language
from tests.dashboard.helpers import get
from tests.dashboard.publishkit import N_MIN, TODAY, publish_city
from tests.dashboard.test_disclosure import csv_rows

WHEN = datetime(2022, 11, 10, 3, tzinfo=UTC)
HIDDEN, OTHERS = "E4.1", ("E4.2", "E4.3")  # element E4's three items


def _respond(session, qv_id: int, sp_id: int, count: int, omit: tuple[str, ...], good: float, seed: int) -> None:
    """`count` paper responses answering every scale item but `omit` (left without an answer)."""
    q, _ids = questionnaire_for(session, qv_id)
    rng = random.Random(f"{seed}-{sp_id}")
    for i in range(count):
        answers = {}
        for item in q.items():
            if item.type == "scale" and item.code not in omit:
                top = [v for v in item.values if v in item.scale.satisfied]
                bad = [v for v in item.values if v not in item.scale.satisfied]
                answers[item.code] = rng.choice(top if rng.random() < good else bad)
        store_response(session, Submission(service_point_id=sp_id, questionnaire_version_id=qv_id, answers=answers,
                                           channel="paper", client_id=str(uuid.UUID(int=rng.getrandbits(128))),
                                           submitted_at=WHEN - timedelta(minutes=i)), commit=False)
    session.commit()


@pytest.fixture
def desks(app, db_session):
    """The Department of Justice with three desks answering SIPAS in November 2022 (N_MIN = 10):
    X: 20 responses, E4.2 and E4.3 left unanswered by 9 of them (E4: n = 11);
    Z: 25 responses, E4.1 left unanswered by 11 (E4: n = 14);  Y: 5 responses (every item).
    Item by item the protection hides, beside Y, the shown desk with fewer answers: Z on E4.1 (14 < 20), X on
    E4.2, E4.3 and on the element E4 (11 < 14)."""
    app.config.update(HAILONG_BOOTSTRAP_B=30, HAILONG_N_MIN=N_MIN, HAILONG_CLOCK=lambda: TODAY)
    data = publish_city(db_session)
    qv = data.city.questionnaires["sipas-2017"].id
    stp = data.city.agencies["STP"]
    sps = {"X": data.sp("STP")}
    db_session.get(ServicePoint, sps["X"]).name_en = "Desk X"
    for name in ("Z", "Y"):
        sp = ServicePoint(code=f"STP-{name}", name_vi=f"Quầy {name}", name_en=f"Desk {name}", agency_id=stp.id)
        db_session.add(sp)
        db_session.flush()
        sps[name] = sp.id
    db_session.commit()
    _respond(db_session, qv, sps["X"], 9, OTHERS, 0.5, 1)
    _respond(db_session, qv, sps["X"], 11, (), 0.6, 2)
    _respond(db_session, qv, sps["Z"], 11, (HIDDEN,), 0.7, 3)
    _respond(db_session, qv, sps["Z"], 14, (), 0.55, 4)
    _respond(db_session, qv, sps["Y"], 5, (), 0.5, 6)
    return qv, sps, stp


def _rows(client, query: str) -> dict[str, dict[str, str]]:
    rows = csv_rows(get(client, f"/homeaffairs/export.csv?{query}&table=estimates").get_data(as_text=True))
    return {next(iter(r.values())): r for r in rows}


def _total(client, query: str) -> tuple[float, int]:
    """The drill-down's total line (the agency's own figure) as its page prints it, in full from the agency
    comparison's estimates CSV."""
    row = _rows(client, query)["Department of Justice"]
    return float(row["Estimate"]), int(row["n"])


def _read_desk_y(client, db_session, desks) -> tuple[float | None, float]:
    """What the Home Affairs CSVs give of desk Y's hidden E4.1 share (None: not computable), and the truth."""
    from survey.results.indices import indices
    from survey.results.selection import Selection

    qv, sps, stp = desks
    login(client, "noivu")
    use_language(client, "en")
    drill = f"questionnaire={qv}&period=2022-Q4&view=agency&agency_id={stp.id}"
    by_measure = {m: _rows(client, f"{drill}&measure={m}") for m in ("E4", HIDDEN, *OTHERS)}
    z = {m: rows["Desk Z"] for m, rows in by_measure.items()}
    y, x = by_measure[HIDDEN]["Desk Y"], by_measure[HIDDEN]["Desk X"]
    if z[HIDDEN]["Estimate"] or y["Estimate"] or not x["Estimate"]:
        raise RuntimeError(f"the scenario is not the one described: {z}")
    truth = indices(db_session, Selection.of(qv, service_point_ids=(sps["Y"],)), n_min=N_MIN).table
    y_share = float(truth[truth["measure"] == HIDDEN]["estimate"].iloc[0])
    if not (z["E4"]["Estimate"] and all(z[m]["Estimate"] for m in OTHERS)):
        return None, y_share
    # Z's E4.1 from its element E4 (the mean of its three items) and the two others
    z_hidden = 3 * float(z["E4"]["Estimate"]) - sum(float(z[m]["Estimate"]) for m in OTHERS)
    # the Department's E4.1 (agency comparison) minus desks X and Z is desk Y
    dept, n_dept = _total(client, f"questionnaire={qv}&period=2022-Q4&level=agency&measure={HIDDEN}")
    n_y = int(y["n"])
    if n_y >= N_MIN:
        raise RuntimeError("desk Y is not small")
    return (dept * n_dept - float(x["Estimate"]) * int(x["n"]) - z_hidden * int(z[HIDDEN]["n"])) / n_y, y_share


def test_an_element_and_the_other_items_give_no_hidden_item(client, desks, db_session):
    found, y_share = _read_desk_y(client, db_session, desks)
    assert found is None or found != pytest.approx(y_share, abs=1e-9), \
        f"desk Y's {HIDDEN} share recovered: {found}"


def test_the_element_is_hidden_beside_its_hidden_item(client, desks, db_session):
    """Desk Z's E4 is hidden, as protecting a small group, where its item E4.1 is; the desk's other figures stay."""
    qv, _sps, stp = desks
    login(client, "noivu")
    use_language(client, "en")
    drill = f"questionnaire={qv}&period=2022-Q4&view=agency&agency_id={stp.id}"
    rows = {m: _rows(client, f"{drill}&measure={m}")["Desk Z"] for m in ("E4", HIDDEN, *OTHERS, "E1")}
    assert not rows[HIDDEN]["Estimate"] and not rows["E4"]["Estimate"]
    assert all(rows[m]["Estimate"] for m in (*OTHERS, "E1"))


def test_self_check_without_the_rule_the_reader_recovers_desk_y(client, desks, db_session, monkeypatch):
    from survey.results import protection

    monkeypatch.setattr(protection, "ACROSS_MEASURES", False)
    found, y_share = _read_desk_y(client, db_session, desks)
    assert found == pytest.approx(y_share, abs=1e-9)
