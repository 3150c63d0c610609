"""A month's or a quarter's figures from `python -m analysis` equal the dashboard's on the same data.

The dashboard estimates a period in its own design (strata = service point × period, survey/results/design.py);
the CLI reading the exported file `--by month` / `--by quarter` does the same since analysis/data.py splits
its strata by period (analysis/design.py:period_split).  Demo city (4,000 responses), counter-quick v3, Ninh
Kiều district committee: every measure of every month (results layer, what the agency page shows) and every
quarter of the agency page's trend CSV.  Before: the CLI's strata were the service points over the whole file,
so e.g. the CLI's standard errors differed from the page's in the third significant digit.
"""

from __future__ import annotations

import csv
import io
import json
import math

import pandas as pd
import pytest
from sqlalchemy import select

from analysis.cli import main
from survey.demo.users import DEMO_USERS
from survey.org.models import Agency
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.respond.export import ExportFilter, export_frame
from survey.results import Selection, indices
from tests.dashboard.helpers import get, login

AGENCY = "UB-NK"
ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4}


@pytest.fixture
def exported(app, db_session, tmp_path):
    app.config["HAILONG_N_MIN"] = 1
    qv = db_session.scalar(select(QuestionnaireVersion).where(QuestionnaireVersion.instrument == "counter-quick",
                                                              QuestionnaireVersion.version == 3))
    frame = export_frame(db_session, ExportFilter(None, None, "counter-quick"))
    frame = frame[frame["questionnaire_version"].astype(int) == 3]
    path = tmp_path / "counter-quick-v3.csv"
    frame.to_csv(path, index=False)
    return qv, path


def _cli(tmp_path, path, period: str) -> pd.DataFrame:
    out = tmp_path / f"by-{period}.json"
    assert main(["indices", str(path), "--questionnaire", "counter-quick@3", "--by", "agency", "--by", period,
                 "--strata", "service_point", "--ci", "logit", "--n-min", "1", "--format", "json",
                 "--output", str(out)]) == 0
    table = pd.DataFrame(json.loads(out.read_text(encoding="utf-8")))
    table = table[table["by"] == f"agency:{period}"]
    table = table[table["domain"].str.startswith(f"{AGENCY}:")].copy()
    table["period"] = table["domain"].str.split(":", n=1).str[1]
    return table.set_index(["period", "measure"])


def _same(a: float, b: float) -> bool:
    """Equal to 9 digits; abs 1e-7 for a month whose answers are all equal (SE 0 on one path, 4e-9 on the
    other: the web app sums its Gram matrices per cell, the CLI per service point)."""
    return (pd.isna(a) and pd.isna(b)) or math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-7)


@pytest.mark.demo_db(responses=4000)
def test_every_month_from_the_cli_equals_the_dashboard(db_session, exported, tmp_path):
    qv, path = exported
    cli = _cli(tmp_path, path, "month")
    agency = db_session.scalar(select(Agency).where(Agency.code == AGENCY))
    web = indices(db_session, Selection(questionnaire_version_ids=(qv.id,), agency_ids=(agency.id,)),
                  domain="month").table
    assert web["domain"].nunique() >= 12
    compared = 0
    for row in web.to_dict("records"):
        got = cli.loc[(row["domain"], row["measure"])]
        for col in ("estimate", "se", "ci_low", "ci_high", "n", "df"):
            assert _same(got[col], row[col]), (row["domain"], row["measure"], col, got[col], row[col])
        compared += 1
    assert compared == len(cli)  # the CLI lists no month the dashboard does not


@pytest.mark.demo_db(responses=4000)
def test_agency_page_quarters_equal_the_cli(client, db_session, exported, tmp_path):
    qv, path = exported
    cli = _cli(tmp_path, path, "quarter")
    admin = next(u for u in DEMO_USERS if u.role == "admin")
    assert login(client, admin.username, admin.password).status_code == 302
    client.get("/lang/en")
    resp = get(client, f"/dashboard/agency/{AGENCY}?questionnaire={qv.id}&from=2021-01&to=2022-12&trend=quarter"
                       "&format=csv&table=trend")
    assert resp.status_code == 200
    trend = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(trend) >= 4
    for shown in trend:
        name = shown["Quarter"]  # "Quarter I/2021" → 2021-Q1
        label = f"{name.rsplit('/', 1)[1]}-Q{ROMAN[name.split()[1].split('/')[0]]}"
        got = cli.loc[(label, "OVERALL")]
        assert int(shown["n"]) == int(got["n"])
        for col, key in (("Estimate", "estimate"), ("95% CI (low)", "ci_low"), ("95% CI (high)", "ci_high")):
            assert math.isclose(float(shown[col]), float(got[key]), rel_tol=1e-9), (label, col, shown[col], got[key])
