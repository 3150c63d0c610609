"""`python -m analysis` by a period estimates each period in its own design, as the web app does.

The dashboard splits the strata by period wherever a domain has a period (strata = service point × period,
docs/methodology-design.md, "One period, one interval"); the CLI reading an exchange file `--by month` (or
quarter, year) now does the same (analysis/data.py:read_totals with analysis/design.py:period_split), so a
month's interval is the same on both.  Checked against R `survey` (reference/period_strata_reference.R):
- `indices --by agency --by month`: every (agency, month) estimate and SE = R's design of that month alone;
- the whole population row stays the design of the whole span (= `indices` without the month);
- `compare --period month`: the change of every agency = R's svycontrast in the split design, its df R's degf.
Before (strata = service point over both months): A1 2026-01 Q1 SE 0.047090 against R's 0.046583.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.cli import main

REF = Path(__file__).parent / "reference"
DATA = str(REF / "unit_data.csv")
DESIGN = ["--questionnaire", str(REF / "reference-v1.json"), "--weights", "weight", "--strata", "service_point",
          "--n-min", "1"]
MEASURES = {"Q1": "Q1", "Q1:mean": "Q1:mean", "overall": "OVERALL"}
RTOL = 1e-9


def _run(tmp_path: Path, *args: str) -> pd.DataFrame:
    out = tmp_path / "out.json"
    assert main([*args, "--format", "json", "--output", str(out)]) == 0
    return pd.DataFrame(json.loads(out.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF / "period_strata_reference.csv", keep_default_na=False, na_values=["NA"])


def test_each_month_is_estimated_as_in_its_own_design(tmp_path, ref):
    got = _run(tmp_path, "indices", DATA, *DESIGN, "--by", "agency", "--by", "month", "--ci", "taylor")
    got = got[got["by"] == "agency:month"].set_index(["domain", "measure"])
    alone = ref[ref["kind"] == "alone"]
    assert len(alone) == 24
    for r in alone.itertuples():
        row = got.loc[(f"{r.agency}:{r.month}", MEASURES[r.measure])]
        assert row["estimate"] == pytest.approx(r.estimate, rel=RTOL)
        assert row["se"] == pytest.approx(r.se, rel=RTOL)


def test_the_whole_population_stays_in_the_design_of_the_whole_span(tmp_path):
    by_month = _run(tmp_path, "indices", DATA, *DESIGN, "--by", "month", "--ci", "taylor")
    whole = _run(tmp_path, "indices", DATA, *DESIGN, "--ci", "taylor")
    split = by_month[by_month["by"] == "all"].reset_index(drop=True)
    for col in ("estimate", "se", "ci_low", "ci_high", "n", "n_eff", "df"):
        assert split[col].tolist() == pytest.approx(whole[col].tolist(), rel=1e-12), col
    # …while a month differs from its domain-of-the-span figure only through the variance
    months = by_month[by_month["by"] == "month"].set_index(["domain", "measure"])
    assert set(months.index.get_level_values(0)) == {"2026-01", "2026-02"}


def test_change_between_months_matches_r(tmp_path, ref):
    got = _run(tmp_path, "compare", DATA, *DESIGN, "--by", "agency", "--period", "month",
               "--before", "2026-01", "--after", "2026-02").set_index(["domain", "measure"])
    rows = ref[ref["kind"] == "change"]
    assert len(rows) == 12
    for r in rows.itertuples():
        row = got.loc[(r.agency, MEASURES[r.measure])]
        assert row["change"] == pytest.approx(r.estimate, rel=RTOL)
        assert row["se"] == pytest.approx(r.se, rel=RTOL)
        assert int(row["df"]) == int(r.df)
