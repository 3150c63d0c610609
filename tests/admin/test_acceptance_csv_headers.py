"""Acceptance finding: the tree export and the paper template announced
`text/csv; charset=utf-8; charset=utf-8` (Flask appends a charset to a text `mimetype` that already has
one); the header must name the charset exactly once."""

from __future__ import annotations

from tests.admin.adminkit import as_admin
from tests.factories import small_city


def test_tree_exports_and_paper_template_name_their_charset_once(client, db_session):
    city = small_city(db_session)
    as_admin(client)
    csv_resp = client.get("/admin/tree/export.csv")
    assert csv_resp.status_code == 200
    assert csv_resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    template = client.get(f"/admin/paper/template/{city.questionnaires['sipas-2017'].id}.csv")
    assert template.status_code == 200
    assert template.headers["Content-Type"] == "text/csv; charset=utf-8"
    yaml_resp = client.get("/admin/tree/export.yaml")
    assert yaml_resp.status_code == 200
    assert yaml_resp.headers["Content-Type"] == "application/yaml; charset=utf-8"
