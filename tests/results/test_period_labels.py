"""Period labels write the year in four digits (leftover of the attacker pass, 7 Dec 2026): year 22 was written
"22-Q3", which no period reader accepts, so a label could not be read back."""

from __future__ import annotations

from datetime import date

import pytest

from survey.results.comparison import Period
from survey.results.periods import period_start
from survey.results.totals import period_label


@pytest.mark.parametrize(("day", "kind", "label"), [
    (date(22, 8, 1), "quarter", "0022-Q3"), (date(22, 8, 1), "month", "0022-08"), (date(22, 8, 1), "year", "0022"),
    (date(999, 12, 1), "quarter", "0999-Q4"), (date(2022, 8, 1), "quarter", "2022-Q3"),
    (date(2022, 8, 1), "month", "2022-08"), (date(2022, 8, 1), "year", "2022")])
def test_labels_have_four_digit_years_and_read_back(day, kind, label):
    assert period_label(day, kind) == label
    assert Period.parse(label).label == label  # Period writes its label the same way
    assert period_start(label) == Period.parse(label).start
