"""`python -m analysis compare | ranks | sample-size`: results, help, one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.cli import main

REF = Path(__file__).parent / "reference"
DATA = str(REF / "core_data.csv")
QUESTIONNAIRE = str(REF / "reference-v1.json")
DESIGN = ["--questionnaire", QUESTIONNAIRE, "--weights", "weight", "--strata", "district",
          "--cluster", "service_point"]


def _json(tmp_path: Path, *args: str) -> pd.DataFrame:
    out = tmp_path / "out.json"
    assert main([*args, "--format", "json", "--output", str(out)]) == 0
    return pd.DataFrame(json.loads(out.read_text(encoding="utf-8")))


@pytest.mark.parametrize("command", ["compare", "ranks", "sample-size"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0 and f"usage: python -m analysis {command}" in capsys.readouterr().out


def test_compare_two_agencies_reproduces_r(tmp_path):
    ref = pd.read_csv(REF / "compare_reference.csv", keep_default_na=False)
    ref = ref[(ref.kind == "pair") & (ref.by == "agency")].set_index("measure")
    got = _json(tmp_path, "compare", DATA, *DESIGN, "--by", "agency", "--domains", "A1", "A2",
                "--measure", "Q1", "--measure", "E1", "--n-min", "1").set_index("measure")
    assert list(got.index) == ["Q1", "E1"]
    for m in got.index:
        assert got.loc[m, "difference"] == pytest.approx(ref.loc[m, "estimate"], rel=1e-9)
        assert got.loc[m, "se"] == pytest.approx(ref.loc[m, "se"], rel=1e-9)


def test_compare_vs_whole_and_changes(tmp_path):
    whole = _json(tmp_path, "compare", DATA, *DESIGN, "--by", "agency", "--measure", "Q1")
    assert sorted(whole["domain"]) == ["A1", "A2", "A3", "A4", "A5"]
    assert {"p_holm", "differs"} <= set(whole.columns)
    change = _json(tmp_path, "compare", DATA, *DESIGN, "--by", "agency", "--period", "channel",
                   "--before", "qr", "--after", "kiosk", "--measure", "E1")
    assert len(change) == 5 and {"p_bh", "flagged", "change"} <= set(change.columns)


def test_periods_from_submitted_at_for_the_whole_and_for_one_agency(tmp_path):
    d = pd.read_csv(DATA)
    # first half in Q2 2022, second half in Q3 (Vietnam time: 30 June 18:00 UTC is already 1 July)
    half = len(d) // 2
    d["submitted_at"] = ["2022-05-10T03:00:00+00:00"] * half + ["2022-06-30T18:00:00+00:00"] * (len(d) - half)
    f = tmp_path / "p.csv"
    d.to_csv(f, index=False)
    whole = _json(tmp_path, "compare", str(f), *DESIGN, "--by", "quarter", "--domains", "2022-Q3", "2022-Q2",
                  "--measure", "Q1")
    assert whole.loc[0, "n_a"] + whole.loc[0, "n_b"] == d["Q1"].notna().sum()
    one = _json(tmp_path, "compare", str(f), *DESIGN, "--by", "agency", "--by", "quarter",
                "--domains", "A1:2022-Q3", "A1:2022-Q2", "--measure", "Q1")
    assert one.loc[0, "by"] == "agency:quarter" and one.loc[0, "n_a"] > 0 and one.loc[0, "se"] > 0
    changes = _json(tmp_path, "compare", str(f), *DESIGN, "--by", "agency", "--period", "quarter",
                    "--before", "2022-Q2", "--after", "2022-Q3", "--measure", "Q1")
    a1 = changes.set_index("domain").loc["A1"]
    assert a1["change"] == pytest.approx(one.loc[0, "difference"], rel=1e-12)
    assert a1["se"] == pytest.approx(one.loc[0, "se"], rel=1e-12)


def test_ranks_blank_and_never_rank_suppressed_units(tmp_path):
    args = ["ranks", DATA, *DESIGN, "--by", "district", "--replicates", "200", "--n-min", "100"]
    t = _json(tmp_path, *args)
    d9 = t[t["domain"] == "D9"].iloc[0]  # the lonely district has 17 respondents
    assert d9["suppressed"] and pd.isna(d9["rank"]) and pd.isna(d9["estimate"]) and d9["n"] == 17
    ranked = t[~t["suppressed"]]
    assert sorted(ranked["rank"]) == list(range(1, 9))
    assert (ranked["rank_low"] <= ranked["rank"]).all() and (ranked["rank"] <= ranked["rank_high"]).all()
    assert ranked["estimate"].is_monotonic_decreasing
    again = _json(tmp_path, *args)
    pd.testing.assert_frame_equal(t, again)  # seeded


def test_sample_size_outputs_both_formulas(capsys):
    assert main(["sample-size", "--margin", "0.05", "--population", "1000"]) == 0
    out = pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out))
    assert out.set_index("formula")["n"].to_dict() == {"cochran": 278, "yamane": 286}


@pytest.mark.parametrize(("args", "message"), [
    (["compare", DATA, *DESIGN, "--by", "agencyx"], "column 'agencyx': missing from the file"),
    (["compare", DATA, *DESIGN, "--by", "agency", "--domains", "A1", "A9"], "'A9' is not a domain"),
    (["compare", DATA, *DESIGN, "--by", "agency", "--period", "channel"], "--period needs --before"),
    (["ranks", DATA, *DESIGN, "--by", "agency", "--measure", "nope"], "measure 'nope'"),
    (["ranks", DATA, *DESIGN], "ranks needs a --by column"),
    (["ranks", DATA, *DESIGN, "--by", "agency", "--weights", "Q1"], None),
    (["sample-size", "--margin", "5"], "margin must be a proportion"),
    (["sample-size", "--margin", "0.05", "--population", "0"], "population must be"),
])
def test_errors_are_one_line_exit_2_and_leave_no_file(tmp_path, capsys, args, message):
    out = tmp_path / "out.csv"
    if args[0] == "ranks" and "--weights" in args:
        # a file whose weight column has a non-positive value: the data error names column and rows
        d = pd.read_csv(DATA)
        d.loc[:2, "weight"] = 0
        bad = tmp_path / "bad.csv"
        d.to_csv(bad, index=False)
        args = ["ranks", str(bad), *DESIGN, "--by", "agency"]
        message = "column 'weight': missing, non-numeric or non-positive weight (3 rows)"
    assert main([*args, "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not out.exists()


UNIT_DATA = str(REF / "unit_data.csv")


def _unit_questionnaire(tmp_path: Path) -> str:
    """The six-item questionnaire of unit_reference.R (5-level scale, E1 = Q1–Q3, overall = all six)."""
    level = [{"value": v, "label": {"vi": str(v), "en": str(v)}} for v in range(1, 6)]
    q = {"id": "unit-reference", "version": 1, "title": {"vi": "t", "en": "t"},
         "description": {"vi": "d", "en": "d"}, "basis": "test",
         "scales": {"s5": {"levels": level, "satisfied": [4, 5]}},
         "sections": [{"code": "S", "title": {"vi": "s", "en": "s"},
                       "items": [{"code": f"Q{i}", "type": "scale", "scale": "s5", "text": {"vi": "q", "en": "q"}}
                                 for i in range(1, 7)]}],
         "index": {"method": "top2box",
                   "elements": [{"code": "E1", "title": {"vi": "e", "en": "e"}, "items": ["Q1", "Q2", "Q3"]},
                                {"code": "E2", "title": {"vi": "e", "en": "e"}, "items": ["Q4", "Q5", "Q6"]}],
                   "overall": {"combine": "mean"}}}
    path = tmp_path / "unit-reference-v1.json"
    path.write_text(json.dumps(q), encoding="utf-8")
    return str(path)


def test_compare_and_ranks_without_clusters_use_the_counters_design(tmp_path):
    """No --cluster, service points as strata: respondent-level moments, R's degf of the domains, normal
    logit draws for ranks (unit_reference.R pins the R values)."""
    ref = pd.read_csv(REF / "unit_reference.csv", keep_default_na=False, na_values=["NA"])
    design = ["--questionnaire", _unit_questionnaire(tmp_path), "--weights", "weight", "--strata", "service_point"]
    got = _json(tmp_path, "compare", UNIT_DATA, *design, "--by", "agency", "--domains", "A1", "A2",
                "--measure", "Q1", "--measure", "Q1:mean", "--n-min", "1").set_index("measure")
    pair = ref[(ref.kind == "pair") & (ref.by == "agency")].set_index("measure")
    degf = ref[ref.kind == "degf_domain"].set_index("a")["df"]
    for m in ("Q1", "Q1:mean"):
        assert got.loc[m, "difference"] == pytest.approx(pair.loc[m, "estimate"], rel=1e-9)
        assert got.loc[m, "se"] == pytest.approx(pair.loc[m, "se"], rel=1e-9)
        assert got.loc[m, "df"] == degf["A1"] + degf["A2"]
    ranks = _json(tmp_path, "ranks", UNIT_DATA, *design, "--by", "agency", "--replicates", "200", "--n-min", "1")
    assert (ranks["rank_method"] == "normal (logit), independent units").all()
    assert sorted(ranks["rank"]) == [1, 2, 3, 4]
