"""`python -m analysis indices`: reproduces R survey end to end; one-line errors, exit 2, no partial file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main

REF = Path(__file__).parent / "reference"
DATA = REF / "core_data.csv"
QUESTIONNAIRE = str(REF / "reference-v1.json")
DESIGN = ["--weights", "weight", "--strata", "district", "--cluster", "service_point"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis", *args], capture_output=True, text=True, check=False)


def test_indices_process_reproduces_r_survey(tmp_path):
    out = tmp_path / "out.json"
    proc = _run("indices", str(DATA), "--questionnaire", QUESTIONNAIRE, "--by", "agency", *DESIGN,
                "--ci", "taylor", "--n-min", "1", "--format", "json", "--output", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    got = pd.DataFrame(json.loads(out.read_text(encoding="utf-8"))).set_index(["by", "domain", "measure"])
    ref = pd.read_csv(REF / "core_reference.csv", na_values=["NA", "NaN"])
    ref = ref[ref.kind.isin(["item", "composite"]) & ref.by.isin(["all", "agency"])]
    ref = ref[ref.measure.isin(["Q1", "Q6:mean", "E1", "E2", "overall"])]
    assert len(ref) == 30
    for row in ref.itertuples():
        measure = "OVERALL" if row.measure == "overall" else row.measure
        g = got.loc[(row.by, row.domain, measure)]
        assert g.estimate == pytest.approx(row.estimate, rel=1e-9)
        assert g.se == pytest.approx(row.se, rel=1e-9)


def test_parquet_and_csv_give_the_same_table(tmp_path):
    pq = tmp_path / "d.parquet"
    pd.read_csv(DATA).to_parquet(pq)
    tables = []
    for f in (DATA, pq):
        out = tmp_path / f"{f.suffix}.csv"
        assert main(["indices", str(f), "--questionnaire", QUESTIONNAIRE, "--by", "agency", "--by", "channel",
                     *DESIGN, "--output", str(out)]) == 0  # fmt: skip
        tables.append(pd.read_csv(out))
    pd.testing.assert_frame_equal(tables[0], tables[1], rtol=1e-12)
    assert set(tables[0].by) == {"all", "agency:channel"}


def test_period_domains_use_vietnam_time(tmp_path):
    d = pd.read_csv(DATA).head(200)
    # 18:30 UTC on 31 July is 01:30 on 1 August in Hà Nội; 30 June 16:59 UTC is still 30 June there
    d["submitted_at"] = ["2022-07-31T18:30:00+00:00"] * 100 + ["2022-06-30T16:59:00+00:00"] * 100
    f = tmp_path / "p.csv"
    d.to_csv(f, index=False)
    out = tmp_path / "o.csv"
    assert main(["indices", str(f), "--questionnaire", QUESTIONNAIRE, "--by", "month", "--output", str(out)]) == 0
    t = pd.read_csv(out)
    assert set(t.domain[t.by == "month"]) == {"2022-06", "2022-08"}
    assert main(["indices", str(f), "--questionnaire", QUESTIONNAIRE, "--by", "quarter", "--output", str(out)]) == 0
    assert set(pd.read_csv(out).domain) == {"all", "2022-Q2", "2022-Q3"}


def test_suppressed_rows_are_blank_in_the_output(tmp_path):
    out = tmp_path / "o.csv"
    assert main(["indices", str(DATA), "--questionnaire", QUESTIONNAIRE, "--by", "service_point", *DESIGN,
                 "--n-min", "15", "--output", str(out)]) == 0  # fmt: skip
    t = pd.read_csv(out, keep_default_na=False, na_values=[""])
    sup = t[t.suppressed]
    assert len(sup) > 0 and sup.estimate.isna().all() and (sup.reason.str.contains("n_below_min")).all()
    # a service point is one cluster: variance not estimable, documented
    sp = t[(t.by == "service_point") & ~t.suppressed]
    assert len(sp) > 0 and sp.se.isna().all() and (sp.reason == "df_zero").all() and sp.estimate.notna().all()


def _bad_file(tmp_path, change) -> Path:
    d = change(pd.read_csv(DATA))
    f = tmp_path / "bad.csv"
    d.to_csv(f, index=False)
    return f


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        (lambda d: d.drop(columns="Q3"), [], "column 'Q3': missing from the file"),
        (lambda d: d, ["--by", "nope"], "column 'nope': missing"),
        (lambda d: d.assign(Q4=d["Q4"].where(d.index % 100 != 0, 7)), [],
         "column 'Q4': values outside the scale 1–5 (0 = no opinion) (30 rows)"),
        (lambda d: d.assign(weight=d["weight"].where(d.index >= 3, -1.0)), [],
         "column 'weight': missing, non-numeric or non-positive weight (3 rows)"),
        (lambda d: d.assign(Q1=d["Q1"].astype(object).where(d.index != 5, "abc")), [],
         "column 'Q1': values outside the scale 1–5 (0 = no opinion) (1 row)"),
    ],
)  # fmt: skip
def test_invalid_input_one_line_exit_2_no_output(tmp_path, change, extra, message):
    f = _bad_file(tmp_path, change)
    out = tmp_path / "out.csv"
    proc = _run("indices", str(f), "--questionnaire", QUESTIONNAIRE, *DESIGN, *extra, "--output", str(out))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {message}" or proc.stderr.strip().startswith(f"error: {message}")
    assert proc.stderr.count("\n") == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [f]


def test_unknown_questionnaire_is_a_usage_error(tmp_path):
    proc = _run("indices", str(DATA), "--questionnaire", "no-such-instrument")
    assert proc.returncode == 2 and proc.stderr.startswith("error: questionnaire 'no-such-instrument'")


def test_no_opinion_zero_is_accepted_and_not_counted(tmp_path):
    f = _bad_file(tmp_path, lambda d: d.assign(Q1=d["Q1"].where(d.index % 10 != 0, 0)))
    out = tmp_path / "o.csv"
    assert main(["indices", str(f), "--questionnaire", QUESTIONNAIRE, "--output", str(out)]) == 0
    t = pd.read_csv(out).set_index("measure")
    answered = pd.read_csv(f)["Q1"].pipe(lambda s: ((s > 0) & s.notna()).sum())
    assert t.loc["Q1", "n"] == answered


def test_help_for_indices_lists_the_options():
    proc = _run("indices", "--help")
    assert proc.returncode == 0
    for opt in ("--questionnaire", "--by", "--weights", "--strata", "--cluster", "--ci", "--n-min", "--format"):
        assert opt in proc.stdout
    assert np.all([m in proc.stdout for m in ("wilson", "clopper-pearson", "taylor", "bootstrap")])


def test_shipped_questionnaire_id_and_excel_csv_with_bom(tmp_path):
    from questionnaires.loader import load_shipped

    spec = load_shipped("sipas-2017").index_spec()
    rng = np.random.default_rng(4)
    n = 120
    d = pd.DataFrame({"agency": rng.choice(["A", "B"], n), "questionnaire": "sipas-2017"})
    for code, item in spec.items.items():
        d[code] = rng.choice(list(item.values), n)
    f = tmp_path / "sipas.csv"
    d.to_csv(f, index=False, encoding="utf-8-sig")  # as Excel saves "CSV UTF-8"
    out = tmp_path / "o.csv"
    assert main(["indices", str(f), "--questionnaire", "sipas-2017", "--by", "agency", "--output", str(out)]) == 0
    t = pd.read_csv(out)
    assert set(t.measure) == {m.code for m in spec.measures}
    assert (t.method[t.measure.isin(list(spec.items))] == "wilson").all()  # unweighted, unclustered: SRS
    d.loc[:4, "questionnaire"] = "counter-quick"
    d.to_csv(f, index=False)
    proc = _run("indices", str(f), "--questionnaire", "sipas-2017", "--output", str(out))
    assert proc.returncode == 2 and "column 'questionnaire'" in proc.stderr and "(5 rows)" in proc.stderr
