"""`flask org import/export`: good files load, bad rows are reported with file, line and field and nothing
is written, re-importing is a no-op, and an export imports back unchanged (YAML and CSV)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from survey.audit.models import AuditEvent
from survey.org.io import read_file
from survey.org.models import Agency, Kiosk, Level, ServicePoint, Unit

TREE_YAML = """\
levels:
  - {code: city, rank: 0, name_vi: Thành phố, name_en: City}
  - {code: district, rank: 1, name_vi: Quận/Huyện, name_en: District}
  - {code: commune, rank: 2, name_vi: Xã/Phường/Thị trấn, name_en: Commune}
units:
  - code: CT
    level: city
    name_vi: Thành phố Cần Thơ
    name_en: Can Tho City
    agencies:
      - code: STP
        kind: department
        name_vi: Sở Tư pháp
        name_en: Department of Justice
        service_points:
          - code: SP-STP
            name_vi: Quầy Sở Tư pháp
            name_en: Justice counter
            kiosks:
              - {code: K-STP, name: Kiosk quầy Tư pháp}
    units:
      - code: NK
        level: district
        name_vi: Quận Ninh Kiều
        name_en: Ninh Kieu District
        units:
          - code: NK-TA
            level: commune
            name_vi: Phường Tân An
            name_en: Tan An Ward
            agencies:
              - code: UB-NK-TA
                kind: people_committee
                name_vi: Ủy ban nhân dân phường Tân An
                name_en: People's Committee of Tan An Ward
                service_points:
                  - {code: SP-NK-TA, name_vi: Bộ phận Một cửa phường Tân An, name_en: Tan An one-stop desk,
                     link_instrument: sipas-2017}
      - {code: PD, level: district, name_vi: Huyện Phong Điền, name_en: Phong Dien District}
"""

HEADER = "type,code,parent,level,rank,kind,name_vi,name_en\n"
LEVELS_CSV = (HEADER + "level,city,,,0,,Thành phố,City\nlevel,district,,,1,,Quận/Huyện,District\n"
              "level,commune,,,2,,Xã/Phường,Commune\nunit,CT,,city,,,Thành phố Cần Thơ,Can Tho City\n")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def counts(session) -> dict[str, int]:
    return {m.__name__: session.scalar(select(func.count()).select_from(m))
            for m in (Level, Unit, Agency, ServicePoint, Kiosk)}


def test_yaml_import_builds_the_tree(runner, db_session, tmp_path):
    result = runner.invoke(args=["org", "import", str(write(tmp_path, "tree.yaml", TREE_YAML))])
    assert result.exit_code == 0, result.output
    assert "total: 12 created, 0 updated, 0 unchanged" in result.output
    assert counts(db_session) == {"Level": 3, "Unit": 4, "Agency": 2, "ServicePoint": 2, "Kiosk": 1}
    ta = db_session.scalar(select(Unit).where(Unit.code == "NK-TA"))
    assert [u.code for u in ta.ancestors()] == ["CT", "NK", "NK-TA"]
    assert ta.name_vi == "Phường Tân An"
    sp = db_session.scalar(select(ServicePoint).where(ServicePoint.code == "SP-STP"))
    assert sp.agency.code == "STP" and sp.kiosk_instrument == "counter-quick" and sp.kiosks[0].code == "K-STP"
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "org.import"))
    assert event is not None and event.after["counts"]["unit"] == {"created": 4}


def test_importing_the_same_file_twice_is_a_no_op(runner, db_session, tmp_path):
    path = write(tmp_path, "tree.yaml", TREE_YAML)
    runner.invoke(args=["org", "import", str(path)])
    events = db_session.scalar(select(func.count()).select_from(AuditEvent))
    result = runner.invoke(args=["org", "import", str(path)])
    assert result.exit_code == 0
    assert "total: 0 created, 0 updated, 12 unchanged" in result.output
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_changed_rows_are_updated_and_moved(runner, db_session, tmp_path):
    runner.invoke(args=["org", "import", str(write(tmp_path, "tree.yaml", TREE_YAML))])
    changes = (HEADER + "unit,NK-TA,PD,commune,,,Xã Tân An,Tan An Commune\n"
               "agency,STP,CT,,,department,Sở Tư pháp thành phố,Department of Justice\n")
    result = runner.invoke(args=["org", "import", str(write(tmp_path, "changes.csv", changes))])
    assert result.exit_code == 0, result.output
    assert "units: 0 created, 1 updated, 0 unchanged" in result.output
    assert "agencies: 0 created, 1 updated, 0 unchanged" in result.output
    db_session.expire_all()
    ta = db_session.scalar(select(Unit).where(Unit.code == "NK-TA"))
    assert ta.parent.code == "PD" and ta.name_vi == "Xã Tân An"


def test_csv_import(runner, db_session, tmp_path):
    text = LEVELS_CSV + ("unit,NK,CT,district,,,Quận Ninh Kiều,Ninh Kieu District\n"
                         "agency,UB-NK,NK,,,people_committee,UBND quận Ninh Kiều,Ninh Kieu People's Committee\n"
                         "service_point,SP-NK,UB-NK,,,,Bộ phận Một cửa,One-stop desk\n"
                         "kiosk,K-NK,SP-NK,,,,Kiosk 1,\n")
    result = runner.invoke(args=["org", "import", str(write(tmp_path, "tree.csv", text))])
    assert result.exit_code == 0, result.output
    assert counts(db_session) == {"Level": 3, "Unit": 2, "Agency": 1, "ServicePoint": 1, "Kiosk": 1}
    assert db_session.scalar(select(Kiosk)).name == "Kiosk 1"


BAD_CSV = [
    ("unit,NK,NK9,district,,,Quận,District\n", "bad.csv:6: parent: unknown parent unit 'NK9'"),
    ("unit,NK,CT,district,,,Quận,District\nunit,NK,CT,district,,,Quận 2,District 2\n",
     "bad.csv:7: code: duplicate code 'NK' (first on line 6)"),
    ("unit,NK,CT,province,,,Quận,District\n", "bad.csv:6: level: unknown level 'province'"),
    ("unit,NK,CT,district,,,,District\n", "bad.csv:6: name_vi: missing name"),
    ("unit,NK,,district,,,Quận,District\n", "bad.csv:6: parent: missing parent"),
    ("unit,NK,CT,district,,,Quận,District\nunit,X,NK,district,,,X,X\n",
     "bad.csv:7: level: level 'district' (rank 1) is not below the level of parent unit NK (district, rank 1)"),
    ("agency,A,NOPE,,,department,A,A\n", "bad.csv:6: parent: unknown unit 'NOPE'"),
    ("agency,A,CT,,,ministry,A,A\n", "bad.csv:6: kind: unknown agency kind 'ministry'"),
    ("service_point,S,NOPE,,,,S,S\n", "bad.csv:6: parent: unknown agency 'NOPE'"),
    ("kiosk,K,NOPE,,,,K,\n", "bad.csv:6: parent: unknown service point 'NOPE'"),
    ("level,ward,,,2,,Phường,Ward\n", "bad.csv:6: rank: rank 2 is also the rank of level commune"),
    ("level,ward,,,two,,Phường,Ward\n", "bad.csv:6: rank: rank 'two' is not a whole number"),
    ("unit,NK,CT,district,1,,Quận,District\n", "bad.csv:6: rank: does not apply to a unit"),
    ("building,B,CT,,,,B,B\n", "bad.csv:6: type: unknown type 'building'"),
    ("unit,N K,CT,district,,,Quận,District\n", "bad.csv:6: code: code 'N K' must be"),
]


@pytest.mark.parametrize(("rows", "message"), BAD_CSV, ids=[m.split(": ", 1)[1][:40] for _, m in BAD_CSV])
def test_bad_csv_rows_are_reported_and_nothing_is_written(runner, db_session, tmp_path, rows, message):
    path = write(tmp_path, "bad.csv", LEVELS_CSV + rows)
    result = runner.invoke(args=["org", "import", str(path)])
    assert result.exit_code == 1
    assert str(tmp_path / message) in result.output
    assert "nothing was imported" in result.output
    assert counts(db_session) == {"Level": 0, "Unit": 0, "Agency": 0, "ServicePoint": 0, "Kiosk": 0}


def test_every_problem_is_reported_at_once(runner, db_session, tmp_path):
    rows = ("unit,NK,NK9,district,,,Quận,District\nunit,PD,CT,district,,,,District\n"
            "unit,OK,CT,district,,,Quận Ổn,Fine District\n")
    result = runner.invoke(args=["org", "import", str(write(tmp_path, "bad.csv", LEVELS_CSV + rows))])
    assert result.exit_code == 1
    assert "bad.csv:6: parent: unknown parent unit 'NK9'" in result.output
    assert "bad.csv:7: name_vi: missing name" in result.output
    assert "2 problem(s)" in result.output
    assert db_session.scalar(select(func.count()).select_from(Unit)) == 0  # not even the good rows


YAML_HEAD = """\
levels:
  - {code: city, rank: 0, name_vi: TP, name_en: City}
  - {code: district, rank: 1, name_vi: Quận, name_en: District}
units:
  - code: CT
    level: city
    name_vi: Cần Thơ
    name_en: Can Tho
    units:
      - code: NK
"""
BAD_YAML = [  # lines after "- code: NK" (line 10), and the expected report
    ("        level: district\n        name_vi: Quận\n        name_en: D\n        colour: red\n",
     "bad.yaml:14: colour: unknown field for a unit"),
    ("        level: district\n        name_vi: Quận\n        name_en: D\n        parent: CT\n",
     "bad.yaml:14: parent: is given by the nesting; remove this field"),
    ("        level: district\n        name_vi: Quận\n        name_en: D\n        level: city\n",
     "bad.yaml:14: level: key repeated (first on line 11)"),
    ("        level: district\n        name_vi:\n        name_en: D\n", "bad.yaml:12: name_vi: missing name"),
    ("        level: town\n        name_vi: Quận\n        name_en: D\n", "bad.yaml:11: level: unknown level 'town'"),
    ("        level: city\n        name_vi: Quận\n        name_en: D\n",
     "bad.yaml:11: level: level 'city' (rank 0) is not below the level of parent unit CT"),
]


@pytest.mark.parametrize(("rest", "message"), BAD_YAML)
def test_bad_yaml_names_line_and_field(runner, db_session, tmp_path, rest, message):
    result = runner.invoke(args=["org", "import", str(write(tmp_path, "bad.yaml", YAML_HEAD + rest))])
    assert result.exit_code == 1
    assert str(tmp_path / message) in result.output
    assert db_session.scalar(select(func.count()).select_from(Unit)) == 0


def test_yaml_syntax_error_names_the_line(runner, db_session, tmp_path):
    path = write(tmp_path, "syntax.yaml", "levels:\n  - code: city\n    rank: [0\nunits: []\n")
    result = runner.invoke(args=["org", "import", str(path)])
    assert result.exit_code == 1
    assert "syntax.yaml:" in result.output and "not valid YAML" in result.output


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_export_imports_back_unchanged(runner, db_session, tmp_path, fmt):
    runner.invoke(args=["org", "import", str(write(tmp_path, "tree.yaml", TREE_YAML))])
    out = tmp_path / f"export.{fmt}"
    result = runner.invoke(args=["org", "export", "--format", fmt, "--output", str(out)])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["org", "import", str(out)])
    assert again.exit_code == 0, again.output
    assert "total: 0 created, 0 updated, 12 unchanged" in again.output
    # the export holds the same entities as the source file
    source_rows, _ = read_file(tmp_path / "tree.yaml")
    exported_rows, issues = read_file(out)
    assert not issues
    assert {(r.kind, r.code, r.parent) for r in exported_rows} == {(r.kind, r.code, r.parent) for r in source_rows}
    second = tmp_path / f"second.{fmt}"
    runner.invoke(args=["org", "export", "--format", fmt, "--output", str(second)])
    assert second.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_export_round_trips_into_an_empty_database(runner, db_session, tmp_path):
    """CSV exported here and YAML exported here describe the same tree (import each and compare exports)."""
    runner.invoke(args=["org", "import", str(write(tmp_path, "tree.yaml", TREE_YAML))])
    csv_text = runner.invoke(args=["org", "export", "--format", "csv"]).output
    rows, issues = read_file(write(tmp_path, "tree.csv", csv_text))
    assert not issues
    retired = [r for r in rows if r.fields.get("status") not in (None, "active")]
    assert retired == []
    assert {r.kind for r in rows} == {"level", "unit", "agency", "service_point", "kiosk"}
    assert next(r for r in rows if r.code == "NK-TA").fields["name_vi"] == "Phường Tân An"


def test_retired_status_is_exported_and_kept(runner, db_session, tmp_path):
    runner.invoke(args=["org", "import", str(write(tmp_path, "tree.yaml", TREE_YAML))])
    text = HEADER.rstrip("\n") + ",status\nunit,PD,CT,district,,,Huyện Phong Điền,Phong Dien District,retired\n"
    result = runner.invoke(args=["org", "import", str(write(tmp_path, "retire.csv", text))])
    assert "units: 0 created, 1 updated, 0 unchanged" in result.output
    exported = runner.invoke(args=["org", "export"]).output
    assert "status: retired" in exported
    out = write(tmp_path, "again.yaml", exported)
    assert "12 unchanged" in runner.invoke(args=["org", "import", str(out)]).output


def test_names_are_compared_in_unicode_nfc(runner, db_session, tmp_path):
    import unicodedata

    runner.invoke(args=["org", "import", str(write(tmp_path, "tree.yaml", TREE_YAML))])
    decomposed = unicodedata.normalize("NFD", TREE_YAML)  # as some Vietnamese keyboards type it
    assert decomposed != TREE_YAML
    result = runner.invoke(args=["org", "import", str(write(tmp_path, "nfd.yaml", decomposed))])
    assert "total: 0 created, 0 updated, 12 unchanged" in result.output
