"""`flask responses export`: the exchange format of docs/contracts.md §3 for a hand-made set of responses."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from questionnaires.loader import load_shipped
from survey.org.models import ServiceVolume
from survey.respond.store import Submission, store_response
from tests.factories import small_city

IDS = [str(uuid.UUID(int=i)) for i in range(1, 6)]


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def responses(db_session):
    """Five responses: paper (any date allowed), sipas at a commune and counter-quick at a department."""
    city = small_city(db_session)
    sipas, counter = city.questionnaires["sipas-2017"], city.questionnaires["counter-quick"]
    ta, stp = city.service_points["UBND-NK-TA-SP1"], city.service_points["STP-SP1"]

    def store(i: int, sp, qv, answers, at):
        store_response(db_session, Submission(sp.id, qv.id, answers, "paper", "vi", IDS[i], at))

    store(0, ta, sipas, {"E1.1": 5, "E1.2": 0, "E1.EXP": [2, 4], "OVERALL.SAT": 4, "COMMENT": "Tốt"},
          _at(2022, 7, 12, 3, 15))
    store(1, ta, sipas, {"E1.1": 2, "OVERALL.SAT": 0}, _at(2022, 7, 31, 16, 30))  # 23:30 on 31 July in Vietnam
    store(2, stp, counter, {"C.ATT": 3, "C.HANDLING": 1, "C.E1": 2}, _at(2022, 7, 31, 17, 10))  # 1 August local
    store(3, stp, counter, {"C.ATT": 2, "C.HANDLING": 2}, _at(2022, 8, 15, 2, 0))
    store(4, stp, counter, {"C.ATT": 1, "C.HANDLING": 3}, _at(2022, 8, 16, 2, 0))
    return city


def export(runner, tmp_path, *args: str, name: str = "out.csv") -> pd.DataFrame:
    out = tmp_path / name
    result = runner.invoke(args=["responses", "export", "--output", str(out), *args])
    assert result.exit_code == 0, result.output
    if out.suffix == ".parquet":
        return pd.read_parquet(out)
    return pd.read_csv(out, dtype=str, keep_default_na=False)


def test_columns_follow_the_contract(runner, responses, tmp_path):
    frame = export(runner, tmp_path)
    cols = list(frame.columns)
    assert cols[:12] == ["response_id", "submitted_at", "questionnaire", "questionnaire_version", "channel",
                         "language", "city", "district", "commune", "agency", "service_point", "weight"]
    assert cols[12:18] == ["C.ATT", "C.HANDLING", "C.E1", "C.E2", "C.E4", "C.E5"]
    assert "E1.EXP#1" in cols and "E1.EXP#5" in cols and "E1.EXP" not in cols
    assert "COMMENT" not in cols and "OVERALL.SAT" in cols
    assert frame["response_id"].tolist() == IDS  # ordered by submission time


def test_values_blanks_and_tree_columns(runner, responses, tmp_path):
    frame = export(runner, tmp_path).set_index("response_id")
    first = frame.loc[IDS[0]]
    assert first["submitted_at"] == "2022-07-12T03:15:00+00:00"
    newest = str(load_shipped("sipas-2017").version)  # the test city's responses use the newest shipped version
    assert (first["questionnaire"], first["questionnaire_version"], first["channel"]) == ("sipas-2017", newest, "paper")
    assert (first["city"], first["district"], first["commune"]) == ("CT", "NK", "NK-TA")
    assert (first["agency"], first["service_point"], first["weight"]) == ("UBND-NK-TA", "UBND-NK-TA-SP1", "")
    assert first["E1.1"] == "5"
    assert first["E1.2"] == ""  # no opinion
    assert first["E1.3"] == ""  # unanswered
    assert [first[f"E1.EXP#{v}"] for v in range(1, 6)] == ["0", "1", "0", "1", "0"]
    assert first["E2.EXP#1"] == ""  # multiple choice not answered at all
    assert first["C.ATT"] == ""  # another questionnaire's item
    second = frame.loc[IDS[1]]
    assert second["OVERALL.SAT"] == "" and second["E1.EXP#2"] == ""
    dept = frame.loc[IDS[2]]
    assert (dept["city"], dept["district"], dept["commune"]) == ("CT", "", "")
    assert (dept["C.ATT"], dept["C.HANDLING"], dept["C.E1"], dept["C.E2"]) == ("3", "1", "2", "")


def test_from_to_are_inclusive_local_days(runner, responses, tmp_path):
    july = export(runner, tmp_path, "--from", "2022-07-01", "--to", "2022-07-31")
    assert july["response_id"].tolist() == IDS[:2]  # 23:30 on 31 July local is in, 00:10 on 1 August is not
    august = export(runner, tmp_path, "--from", "2022-08-01", name="aug.csv")
    assert august["response_id"].tolist() == IDS[2:]
    assert export(runner, tmp_path, "--to", "2022-07-11", name="none.csv").empty


def test_questionnaire_filter(runner, responses, tmp_path):
    frame = export(runner, tmp_path, "--questionnaire", "counter-quick")
    assert frame["response_id"].tolist() == IDS[2:]
    assert "E1.1" not in frame.columns and "C.ATT" in frame.columns


def test_unknown_questionnaire_is_an_error(runner, responses, tmp_path):
    result = runner.invoke(args=["responses", "export", "--questionnaire", "sipas", "--output",
                                 str(tmp_path / "x.csv")])
    assert result.exit_code == 1
    assert "unknown questionnaire 'sipas'" in result.output and "sipas-2017" in result.output


def test_parquet_holds_the_same_values(runner, responses, tmp_path):
    text = export(runner, tmp_path)
    parquet = export(runner, tmp_path, "--format", "parquet", name="out.parquet")
    assert list(parquet.columns) == list(text.columns)
    assert str(parquet["E1.1"].dtype) == "Int64" and parquet["weight"].isna().all()
    as_text = parquet.astype("string").fillna("")
    for col in ("response_id", "submitted_at", "district", "E1.1", "E1.EXP#2", "C.HANDLING", "OVERALL.SAT"):
        assert as_text[col].tolist() == text[col].tolist(), col


def test_volume_weights_are_n_over_responses_per_cell(runner, responses, db_session, tmp_path):
    sp = responses.service_points
    for code, period, dossiers in [("UBND-NK-TA-SP1", date(2022, 7, 1), 40), ("STP-SP1", date(2022, 8, 1), 300)]:
        db_session.add(ServiceVolume(service_point_id=sp[code].id, period=period, dossiers=dossiers))
    db_session.commit()
    frame = export(runner, tmp_path, "--weights", "volume").set_index("response_id")
    # July at the commune: 40 dossiers, 2 responses; August at the department: 300 dossiers, 3 counter responses
    assert [float(frame.loc[i, "weight"]) for i in IDS] == [20.0, 20.0, 100.0, 100.0, 100.0]


def test_volume_weights_without_volumes_fail_clearly(runner, responses, tmp_path):
    result = runner.invoke(args=["responses", "export", "--weights", "volume", "--output", str(tmp_path / "x.csv")])
    assert result.exit_code == 1
    assert "no service volume" in result.output
    assert not (tmp_path / "x.csv").exists()
