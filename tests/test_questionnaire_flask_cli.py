"""`flask questionnaire validate/load`: problems name file and path; versions with responses are immutable."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import func, select

from questionnaires.loader import shipped
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.respond.store import Submission, store_response
from tests.factories import small_city


def counter_quick() -> dict:
    path = [p for p in shipped() if p.name.startswith("counter-quick-")][-1]  # the newest version
    return json.loads(path.read_text(encoding="utf-8"))


def write(tmp_path, name, data) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def answered_counter_quick(db_session) -> QuestionnaireVersion:
    """The small city's counter-quick version, with one response (so its file can no longer change)."""
    city = small_city(db_session)
    qv = city.questionnaires["counter-quick"]
    store_response(db_session, Submission(city.service_points["STP-SP1"].id, qv.id, {"C.ATT": 3, "C.HANDLING": 2},
                                          "paper", submitted_at=datetime(2022, 5, 1, 3, tzinfo=UTC)))
    return qv


def test_validate_reports_file_and_path(runner, tmp_path):
    data = counter_quick()
    data["sections"][0]["items"][0]["scale"] = "nope"
    bad = write(tmp_path, "counter-quick-v1.json", data)
    result = runner.invoke(args=["questionnaire", "validate", bad])
    assert result.exit_code == 1
    assert bad in result.output and "sections" in result.output and "nope" in result.output
    ok = runner.invoke(args=["questionnaire", "validate", *map(str, shipped())])
    assert ok.exit_code == 0 and ok.output.count(": OK") == len(shipped())


def test_load_is_idempotent(runner, db_session):
    paths = list(map(str, shipped()))
    first = runner.invoke(args=["questionnaire", "load", *paths])
    assert first.exit_code == 0 and first.output.count(": created") == len(paths)
    again = runner.invoke(args=["questionnaire", "load", *paths])
    assert again.exit_code == 0 and again.output.count(": unchanged") == len(paths)
    assert db_session.scalar(select(func.count()).select_from(QuestionnaireVersion)) == len(paths)


def test_changed_file_under_a_version_with_responses_is_refused(runner, db_session, tmp_path):
    qv = answered_counter_quick(db_session)
    data = counter_quick()
    data["title"]["en"] += " (changed)"
    v = data["version"]
    result = runner.invoke(args=["questionnaire", "load", write(tmp_path, f"counter-quick-v{v}.json", data)])
    assert result.exit_code == 1
    assert "already has responses" in result.output and f"new version number (e.g. {v + 1})" in result.output
    db_session.expire_all()
    assert not db_session.get(QuestionnaireVersion, qv.id).title_en.endswith("(changed)")
    data["version"] = v + 1
    bumped = runner.invoke(args=["questionnaire", "load", write(tmp_path, f"counter-quick-v{v + 1}.json", data)])
    assert bumped.exit_code == 0 and f"created counter-quick v{v + 1}" in bumped.output


def test_flask_validate_reports_languages(runner):
    """`flask questionnaire validate` says which languages a version covers (km texts of counter-quick v3)."""
    res = runner.invoke(args=["questionnaire", "validate", "questionnaires/instruments/counter-quick-v3.json"])
    assert res.exit_code == 0, res.output
    assert "languages: vi, en, km (" in res.output


def test_a_refused_file_keeps_none_of_the_files_loaded_with_it(runner, db_session, tmp_path):
    """`questionnaire load A B` is one unit of work: B refused → A not stored either, and B is the file named."""
    answered_counter_quick(db_session)
    fresh = counter_quick()
    v = fresh["version"]
    fresh["version"] = v + 5
    changed = counter_quick()
    changed["title"]["en"] += " (changed)"
    a = write(tmp_path, f"counter-quick-v{v + 5}.json", fresh)
    b = write(tmp_path, f"counter-quick-v{v}.json", changed)
    result = runner.invoke(args=["questionnaire", "load", a, b])
    assert result.exit_code == 1
    assert f"{b}: " in result.output and "already has responses" in result.output
    db_session.expire_all()
    versions = db_session.scalars(select(QuestionnaireVersion.version)
                                  .where(QuestionnaireVersion.instrument == "counter-quick")).all()
    assert v + 5 not in versions
