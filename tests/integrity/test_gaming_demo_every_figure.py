"""Issue 16 "Done when", end to end on `flask demo --inject-gaming` data: the Integrity page lists every
injected episode; confirming one removes its responses from EVERY figure a person reads — the agency page
(HTML, CSV, XLSX), the Home Affairs comparison (HTML, CSV, XLSX) and the period report (HTML, XLSX, PDF) —
each then says "n responses excluded after review"; dismissing another leaves every figure as it was; each
decision is audited with its reason, and a confirmation can be reversed (figures back as before).

Every figure is checked against `analysis` run on respondent rows read back from the `response`/`answer`
tables (tests/results/factories.py:respondent_frame, the respondent-level path), never against the page
itself: the Overall index and n of every agency on the comparison (page, CSV, XLSX) and in the report (page,
XLSX, PDF), every index of the reviewed agency on its page (HTML, CSV, XLSX).  SQLite and PostgreSQL."""

from __future__ import annotations

import html as htmllib
import math
from collections import defaultdict
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from survey.audit.models import AuditEvent
from survey.demo.gaming import PATTERNS
from survey.i18n import LOCAL_TZ
from survey.org.models import Agency, ServicePoint
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.models import Response
from survey.results import cache
from survey.results.integrity_models import IntegrityFlag
from tests.dashboard.hakit import read_csv, reference, use_language
from tests.dashboard.helpers import login, page_token
from tests.dashboard.publication_checks import tallies_equal_recount
from tests.integrity.readers import page_lines, pdf_lines, sheet_rows, sheets, shows_row
from tests.results.factories import respondent_frame

pytestmark = pytest.mark.demo_db(responses=4000)  # the demo another test loads: one load per run and database

URL = "/homeaffairs/integrity/"
QUARTER, FROM, TO = "2022-Q4", "2022-10", "2022-12"  # the demo's last quarter; episodes are in its last month
N_MIN = 5


@pytest.fixture()
def gamed(app, db_session):
    """The demo of 4,000 with what `flask demo --inject-gaming` adds after loading (same function)."""
    from survey.demo.cli import _inject

    app.config["HAILONG_CLOCK"] = lambda: datetime(2023, 1, 20, 3, tzinfo=UTC)
    app.config.update(HAILONG_BOOTSTRAP_B=40, HAILONG_N_MIN=N_MIN)
    cache.clear()
    last = db_session.scalar(select(func.max(Response.id))) or 0
    _inject(db_session, "2022", 2022)
    [event] = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "demo.inject_gaming")).all()
    sp_ids = dict(db_session.execute(select(ServicePoint.code, ServicePoint.id)).all())
    injected: dict[tuple[int, date], set[int]] = defaultdict(set)
    for rid, sp, at in db_session.execute(select(Response.id, Response.service_point_id, Response.submitted_at)
                                          .where(Response.id > last)):
        injected[(sp, at.astimezone(LOCAL_TZ).date())].add(rid)
    episodes = [dict(e, sp_id=sp_ids[e["service_point"]], ids=injected[(sp_ids[e["service_point"]],
                                                                       date.fromisoformat(e["day"]))])
                for e in event.after["episodes"]]
    yield episodes
    cache.clear()


def _flag_of(db_session, episode) -> IntegrityFlag:
    return db_session.scalars(select(IntegrityFlag).where(
        IntegrityFlag.service_point_id == episode["sp_id"],
        IntegrityFlag.day == date.fromisoformat(episode["day"]))).one()


def _decide(client, flag_id: int, action: str, reason: str, status: str = "open") -> None:
    token = page_token(client, f"{URL}?status={status}")
    resp = client.post(f"{URL}{flag_id}/decide", data={"csrf_token": token, "action": action, "reason": reason})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]


def _surfaces(client, qv_id: int, agency: str) -> dict[str, object]:
    """Everything a person reads for the quarter: pages as text, exports as rows."""
    ag = f"/dashboard/agency/{agency}?from={FROM}&to={TO}&questionnaire={qv_id}"
    ha = f"level=agency&period={QUARTER}&questionnaire={qv_id}"
    rep = f"period={QUARTER}&questionnaire={qv_id}"
    out: dict[str, object] = {
        "agency page": page_lines(client.get(ag).get_data(as_text=True)),
        "agency csv": read_csv(client.get(f"{ag}&format=csv&table=indices")),
        "agency coverage csv": read_csv(client.get(f"{ag}&format=csv&table=coverage")),
        "agency xlsx": sheets(client.get(f"{ag}&format=xlsx").data),
        "comparison page": page_lines(client.get(f"/homeaffairs/?{ha}").get_data(as_text=True)),
        "comparison csv": read_csv(client.get(f"/homeaffairs/export.csv?{ha}&table=estimates")),
        "comparison coverage csv": read_csv(client.get(f"/homeaffairs/export.csv?{ha}&table=coverage")),
        "comparison xlsx": sheets(client.get(f"/homeaffairs/export.xlsx?{ha}").data),
        "report page": page_lines(client.get(f"/homeaffairs/report/?{rep}").get_data(as_text=True)),
        "report xlsx": sheets(client.get(f"/homeaffairs/report/report.xlsx?{rep}").data),
    }
    pdf = client.get(f"/homeaffairs/report/report.pdf?{rep}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    out["report pdf"] = pdf_lines(pdf.data)
    return out


def _reference(db_session, qv_id: int):
    """Result table per agency of the quarter, from the answer rows of the responses that count."""
    counted = set(db_session.scalars(select(Response.id).where(Response.questionnaire_version_id == qv_id,
                                                               Response.review_status.is_(None))))
    frame = respondent_frame(db_session, qv_id)
    frame = frame[frame["rid"].isin(counted)].reset_index(drop=True)
    spec = questionnaire_for(db_session, qv_id)[0].index_spec()
    _t, ref = reference(frame, spec, ("agency",), QUARTER, n_min=N_MIN)
    return ref


def _assert_figures(s: dict[str, object], ref, names: dict[str, str], agency: str) -> None:
    """Every figure of the surfaces equals the reference computed from answer rows."""
    overall = ref[ref["measure"] == "OVERALL"].set_index("domain")
    assert agency in overall.index and not overall.loc[agency, "suppressed"], "the reviewed agency must show figures"
    comparison_csv = {next(iter(r.values())): r for r in s["comparison csv"]}  # type: ignore[union-attr]
    comparison_xlsx = sheet_rows(s["comparison xlsx"]["Estimates"], "Agencies")  # type: ignore[index]
    report_xlsx = sheet_rows(s["report xlsx"]["Agencies - Estimates"], "Agencies")  # type: ignore[index]
    for code, rec in overall.iterrows():
        name, n = names[str(code)], int(rec["n"])
        # an agency hidden to protect a small group (survey/results/protection.py, tests/dashboard/
        # test_disclosure.py) has enough responses but no figure on any surface
        protects = comparison_csv[name]["Note"].startswith("hidden to protect a small group")
        assert not (protects and rec["suppressed"]), code
        for where, row in (("comparison csv", comparison_csv[name]), ("comparison xlsx", comparison_xlsx[name]),
                           ("report xlsx", report_xlsx[name])):
            assert int(row["n"]) == n, (where, code)
            if protects:
                assert row["Estimate"] in ("", None), (where, code)
            elif not rec["suppressed"]:
                assert math.isclose(float(row["Estimate"]), float(rec["estimate"]), rel_tol=1e-9), (where, code)
        if not rec["suppressed"] and not protects:
            for where in ("comparison page", "report page", "report pdf"):
                assert shows_row(s[where], name, rec["estimate"], n), (where, code)  # type: ignore[arg-type]
    mine = ref[ref["domain"] == agency].set_index("measure")
    agency_csv = {r["Code"]: r for r in s["agency csv"]}  # type: ignore[union-attr]
    agency_xlsx = sheet_rows(s["agency xlsx"]["Indices"], "Code")  # type: ignore[index]
    for measure, rec in mine.iterrows():
        if measure not in agency_csv:  # item indices are in their own table
            continue
        for where, row in (("agency csv", agency_csv[measure]), ("agency xlsx", agency_xlsx[measure])):
            assert int(row["n"]) == int(rec["n"]), (where, measure)
            if not rec["suppressed"]:
                assert math.isclose(float(row["Estimate"]), float(rec["estimate"]), rel_tol=1e-9), (where, measure)
    assert shows_row(s["agency page"], "Overall satisfaction index", mine.loc["OVERALL", "estimate"],  # type: ignore[arg-type]
                      int(mine.loc["OVERALL", "n"]))


def _assert_excluded(s: dict[str, object], n: int, name: str) -> None:
    """"n responses excluded after review" on every page and the PDF, and in every coverage export."""
    sentence = f"{n} responses excluded after review"
    for where in ("agency page", "comparison page", "report page", "report pdf"):
        text = " ".join(str(s[where]).split())
        assert (sentence in text) is (n > 0), where
        if n == 0:
            assert "excluded after review" not in text.replace("Excluded after review", ""), where
    assert s["agency coverage csv"][0]["Excluded after review"] == str(n)  # type: ignore[index]
    row = next(r for r in s["comparison coverage csv"] if next(iter(r.values())) == name)  # type: ignore[union-attr]
    assert row["Excluded after review"] == str(n)
    sheet = sheet_rows(s["report xlsx"]["Response rate"], "Agency")  # type: ignore[index]
    assert sheet[name]["Excluded after review"] == n


def _audit(db_session, action: str, flag_id: int) -> list[str]:
    return [e.after["reason"] for e in db_session.scalars(select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.target_id == str(flag_id)).order_by(AuditEvent.id))]


def test_the_integrity_page_lists_every_injected_episode(client, db_session, gamed) -> None:
    assert len(gamed) == 2 * len(PATTERNS) and {e["pattern"] for e in gamed} == set(PATTERNS)
    login(client, "noivu", "demo-noivu-2022")
    use_language(client, "en")
    page = client.get(URL).get_data(as_text=True)
    for ep in gamed:
        assert len(ep["ids"]) == ep["size"], ep
        flag = _flag_of(db_session, ep)
        assert ep["ids"] <= set(flag.response_ids), ep  # confirming it sets every stuffed response aside
        section = page.split(f'id="flag-{flag.id}"', 1)[1].split('id="flag-', 1)[0]
        assert db_session.get(ServicePoint, ep["sp_id"]).name_en in htmllib.unescape(section), ep
        assert 'value="confirm"' in section and 'value="dismiss"' in section
        if ep["pattern"] == "moderate_spread":  # uniform and repeat (and rise) see it, evidence on the page
            assert {"uniform", "repeat"} <= set(flag.signals) <= {"uniform", "repeat", "rise"}, flag.signals
            text = " ".join(htmllib.unescape(section).split())
            assert "unusually many responses with every answer at one same level" in text
            assert f"every answer at one other level {ep['size']}," in text


def _case(client, db_session, gamed, pattern: str):
    """The first episode of a pattern, its flag, questionnaire version, agency and agency names, and what Home
    Affairs sees before deciding (checked against the reference)."""
    ep = next(e for e in gamed if e["pattern"] == pattern)
    flag = _flag_of(db_session, ep)
    qv_id = db_session.scalar(select(Response.questionnaire_version_id).where(Response.id == min(ep["ids"])))
    agency = db_session.get(ServicePoint, ep["sp_id"]).agency.code
    names = {a.code: a.name_en for a in db_session.scalars(select(Agency))}
    login(client, "noivu", "demo-noivu-2022")
    use_language(client, "en")
    before, reference_before = _surfaces(client, qv_id, agency), _reference(db_session, qv_id)
    _assert_figures(before, reference_before, names, agency)
    _assert_excluded(before, 0, names[agency])
    return ep, flag, qv_id, agency, names, before, reference_before


def test_confirming_an_episode_removes_it_from_every_figure_and_can_be_reversed(client, db_session, gamed):
    ep, flag, qv_id, agency, names, before, reference_before = _case(client, db_session, gamed, "kiosk_burst")

    _decide(client, flag.id, "confirm", "20 best-level answers 30 s apart at the counter kiosk")
    db_session.expire_all()
    n = len(flag.response_ids)
    excluded = set(db_session.scalars(select(Response.id).where(Response.review_status == "excluded")))
    assert ep["ids"] <= excluded
    tallies_equal_recount(db_session)
    after = _surfaces(client, qv_id, agency)
    reference_after = _reference(db_session, qv_id)
    mine = lambda ref: int(ref[(ref["domain"] == agency) & (ref["measure"] == "OVERALL")]["n"].iloc[0])  # noqa: E731
    assert mine(reference_after) == mine(reference_before) - n  # every answered flagged response left
    _assert_figures(after, reference_after, names, agency)
    _assert_excluded(after, n, names[agency])
    assert _audit(db_session, "integrity.confirm", flag.id) == ["20 best-level answers 30 s apart at the counter kiosk"]

    # reversed: reopening keeps them out awaiting a new decision; dismissing then brings every figure back
    _decide(client, flag.id, "reopen", "the office says a citizen group answered", status="confirmed")
    _decide(client, flag.id, "dismiss", "checked the camera: a citizen group at the counter")
    db_session.expire_all()
    tallies_equal_recount(db_session)
    restored = _surfaces(client, qv_id, agency)
    _assert_figures(restored, reference_before, names, agency)
    _assert_excluded(restored, 0, names[agency])
    for key in ("agency csv", "comparison csv", "comparison xlsx", "report xlsx"):
        assert restored[key] == before[key], key
    assert _audit(db_session, "integrity.reopen", flag.id) == ["the office says a citizen group answered"]
    assert _audit(db_session, "integrity.dismiss", flag.id) == ["checked the camera: a citizen group at the counter"]


def test_dismissing_an_episode_leaves_every_figure_unchanged(client, db_session, gamed):
    _ep, flag, qv_id, agency, names, before, reference_before = _case(client, db_session, gamed, "token_batch")
    _decide(client, flag.id, "dismiss", "receipt tokens of a school visit, checked with the office")
    db_session.expire_all()
    assert db_session.get(IntegrityFlag, flag.id).status == "dismissed"
    tallies_equal_recount(db_session)
    cache.clear()
    after = _surfaces(client, qv_id, agency)
    _assert_figures(after, reference_before, names, agency)
    _assert_excluded(after, 0, names[agency])
    for key in ("agency csv", "agency coverage csv", "comparison csv", "comparison coverage csv", "comparison xlsx",
                "report xlsx"):
        assert after[key] == before[key], key
    assert _audit(db_session, "integrity.dismiss", flag.id) == [
        "receipt tokens of a school visit, checked with the office"]

