"""Post-stratification and raking against R survey (reference/extras_reference.R) and by hand."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.weights import WeightingError, month_of, poststratify, rake

REF = json.loads((Path(__file__).parent / "reference" / "extras_reference.json").read_text())


def test_poststratify_matches_r_poststratify():
    ref = REF["poststratify"]
    res = poststratify(pd.DataFrame(ref["data"]), pd.DataFrame(ref["volume"]))
    np.testing.assert_allclose(res.weights.to_numpy(), ref["weights"], rtol=1e-12)
    assert res.uncovered.empty and res.coverage == 1.0


def test_weights_reproduce_cell_volumes_and_report_uncovered_cells():
    responses = pd.DataFrame({"service_point": ["A", "A", "A", "B"], "month": ["2024-03"] * 4})
    volumes = pd.DataFrame({"service_point": ["A", "B", "C"], "month": ["2024-03"] * 3,
                            "dossiers": [30, 5, 15]})
    res = poststratify(responses, volumes)
    assert res.weights.tolist() == [10, 10, 10, 5]
    assert res.uncovered.to_dict("records") == [{"service_point": "C", "month": "2024-03", "N": 15.0}]
    assert res.coverage == pytest.approx(35 / 50)


def test_month_is_taken_in_vietnam_time():
    # 31 July 20:00 UTC is 1 August 03:00 in Hanoi: the August volume applies.
    s = pd.Series(["2022-07-31T20:00:00+00:00", "2022-07-31T16:59:00+00:00"])
    assert month_of(s).tolist() == ["2022-08", "2022-07"]
    responses = pd.DataFrame({"service_point": ["A", "A"], "submitted_at": s})
    volumes = pd.DataFrame({"service_point": ["A", "A"], "month": ["2022-07", "2022-08"], "dossiers": [7, 9]})
    assert poststratify(responses, volumes).weights.tolist() == [9, 7]


@pytest.mark.parametrize(("dossiers", "msg"), [
    ([30, None], "'dossiers': 1 rows missing"),
    ([30, -1], "'dossiers': 1 rows missing, non-numeric or negative"),
    ([30, 0], "'dossiers': 1 rows \\(responses\\) in 1 cell\\(s\\) whose service volume is 0"),
])
def test_bad_volumes_are_errors(dossiers, msg):
    responses = pd.DataFrame({"service_point": ["A", "B"], "month": ["2024-03"] * 2})
    volumes = pd.DataFrame({"service_point": ["A", "B"], "month": ["2024-03"] * 2, "dossiers": dossiers})
    with pytest.raises(WeightingError, match=msg):
        poststratify(responses, volumes)


def test_responses_without_volume_are_an_error_naming_the_cell():
    responses = pd.DataFrame({"service_point": ["A", "B", "B"], "month": ["2024-03"] * 3})
    volumes = pd.DataFrame({"service_point": ["A"], "month": ["2024-03"], "dossiers": [4]})
    msg = r"2 rows .* 1 cell\(s\) have no service volume, e\.g\. B 2024-03"
    with pytest.raises(WeightingError, match=msg):
        poststratify(responses, volumes)


def test_structural_errors():
    responses = pd.DataFrame({"service_point": ["A", None], "month": ["2024-03"] * 2})
    volumes = pd.DataFrame({"service_point": ["A", "A"], "month": ["2024-03"] * 2, "dossiers": [1, 2]})
    with pytest.raises(WeightingError, match="'service_point': 1 rows empty"):
        poststratify(responses, volumes)
    with pytest.raises(WeightingError, match="1 rows repeat a cell"):
        poststratify(responses.iloc[:1], volumes)
    with pytest.raises(WeightingError, match="'dossiers': missing from the volume table"):
        poststratify(responses.iloc[:1], volumes.drop(columns="dossiers"))


def test_rake_matches_r_survey_rake():
    ref = REF["rake"]
    d = pd.DataFrame(ref["data"])
    w = rake(d, {"sex": ref["sex"], "district": ref["district"]}, d["w0"])
    np.testing.assert_allclose(w.to_numpy(), ref["weights"], rtol=1e-8)
    assert w.groupby(d["sex"]).sum().to_dict() == pytest.approx(ref["sex"])
    assert w.groupby(d["district"]).sum().to_dict() == pytest.approx(ref["district"])


def test_rake_errors():
    d = pd.DataFrame({"sex": ["f", "m", "x"], "district": ["A", "B", "A"]})
    with pytest.raises(WeightingError, match="'sex': 1 rows have a level with no population margin"):
        rake(d, {"sex": {"f": 5, "m": 5}})
    with pytest.raises(WeightingError, match="disagree on the population total"):
        rake(d.iloc[:2], {"sex": {"f": 5, "m": 5}, "district": {"A": 5, "B": 6}})
    with pytest.raises(WeightingError, match="positive total but no rows"):
        rake(d.iloc[:2], {"sex": {"f": 5, "m": 5, "x": 1}})
    with pytest.raises(WeightingError, match="'weight': 1 rows not positive"):
        rake(d.iloc[:2], {"sex": {"f": 5, "m": 5}}, [1, 0])
