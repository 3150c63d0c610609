"""Helpers for the Home Affairs tests: log in through the real form, compute the reference figures with the
analysis package on respondent rows read back from the database (the respondent-level path)."""

from __future__ import annotations

import csv
import io

import flask_babel
import pandas as pd

from analysis.estimate import estimate
from analysis.result import result_table
from tests.dashboard.helpers import signed_in
from tests.results.factories import reference_totals


def login(client, username: str) -> None:
    signed_in(client, username)


def use_language(client, code: str) -> None:
    """Switch the session language; flask-babel caches the locale on the shared `g`, so refresh it."""
    client.get(f"/lang/{code}")
    flask_babel.refresh()


def read_csv(resp) -> list[dict[str, str]]:
    text = resp.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def latest_quarter(frame: pd.DataFrame) -> str:
    return max(frame["quarter"], key=lambda q: (int(q[:4]), int(q[-1])))


def reference(frame: pd.DataFrame, spec, by: tuple[str, ...], quarter: str, n_min: int = 30):
    """(totals, result table) of the respondent rows of one quarter: the page's selection and design."""
    rows = frame[frame["quarter"] == quarter].reset_index(drop=True)
    totals = reference_totals(rows, spec, by)
    return totals, result_table(estimate(totals, spec.measures, by), "logit", n_min=n_min)
