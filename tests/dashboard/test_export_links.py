"""Downloads for people first: XLSX (opens correctly in a Vietnamese-locale Excel) comes first, CSV (dot
decimals, raw proportions) is labelled as being for analysis software."""

from __future__ import annotations

import re

import pytest

from tests.dashboard.helpers import forget_user, login
from tests.dashboard.test_month_filters import city  # noqa: F401  (the fixture)


@pytest.mark.parametrize(("lang", "csv_label"), [("vi", "CSV cho phần mềm phân tích"),
                                                 ("en", "CSV for analysis software")])
@pytest.mark.parametrize("url", ["/dashboard/agency/UBND-NK", "/dashboard/agency/UBND-NK/comments"])
def test_xlsx_first_and_csv_labelled_for_analysis_software(client, city, url, lang, csv_label):  # noqa: F811
    assert login(client, "noivu").status_code == 302
    forget_user()
    client.get(f"/lang/{lang}")
    html = client.get(url).get_data(as_text=True)
    links = re.findall(r'<a[^>]*href="[^"]*format=(csv|xlsx)[^"]*"[^>]*>([^<]*)</a>', html)
    assert links, "the page offers downloads"
    csv_links = [i for i, (fmt, _label) in enumerate(links) if fmt == "csv"]
    assert csv_links
    for i in csv_links:  # each CSV comes after its XLSX, and says who it is for
        assert i > 0 and links[i - 1][0] == "xlsx" and links[i][1] == csv_label, links
    assert "Download CSV" not in html and "Tải CSV" not in html
