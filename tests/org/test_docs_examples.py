"""The examples in docs/org-file-format.md import as documented (so the documentation cannot rot)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from sqlalchemy import select

from survey.org.models import Kiosk, Unit

DOC = Path(__file__).resolve().parents[2] / "docs" / "org-file-format.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("lang", ["yaml", "csv"])
def test_documented_full_example_imports(runner, db_session, tmp_path, lang):
    path = tmp_path / f"tree.{lang}"
    path.write_text(blocks(lang)[0], encoding="utf-8")
    result = runner.invoke(args=["org", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "total: 11 created" in result.output
    assert db_session.scalar(select(Unit).where(Unit.code == "NK-CAIKHE")).parent.code == "NK"
    assert db_session.scalar(select(Kiosk)).service_point.code == "SP-STP"


def test_documented_partial_file_adds_a_ward(runner, db_session, tmp_path):
    full, partial = tmp_path / "tree.yaml", tmp_path / "partial.yaml"
    full.write_text(blocks("yaml")[0], encoding="utf-8")
    partial.write_text(blocks("yaml")[1], encoding="utf-8")
    runner.invoke(args=["org", "import", str(full)])
    result = runner.invoke(args=["org", "import", str(partial)])
    assert "units: 1 created, 0 updated, 0 unchanged" in result.output
    assert db_session.scalar(select(Unit).where(Unit.code == "NK-ANHOA")).parent.code == "NK"


def _text_blocks() -> list[str]:
    return blocks("text")


def _import(runner, path, text: str):
    path.write_text(text, encoding="utf-8")
    return runner.invoke(args=["org", "import", str(path)])


def test_documented_commands_round_trip(runner, db_session, tmp_path):
    """The page's commands: import, export to standard output (YAML), export --format csv --output FILE;
    either export imports back unchanged."""
    [sh] = blocks("sh")
    lines = [shlex.split(line.split("#")[0]) for line in sh.splitlines() if line.strip()]
    assert [a[3:5] for a in lines] == [["org", "import"], ["org", "export"], ["org", "export"]]
    assert _import(runner, tmp_path / lines[0][5], blocks("yaml")[0]).exit_code == 0
    to_stdout = runner.invoke(args=lines[1][3:])
    assert to_stdout.exit_code == 0 and "\nlevels:\n" in to_stdout.stdout
    csv_args = [str(tmp_path / a) if a.endswith(".csv") else a for a in lines[2][3:]]
    assert runner.invoke(args=csv_args).exit_code == 0
    for path in (tmp_path / "exported.yaml", tmp_path / "tree.csv"):
        if path.suffix == ".yaml":
            path.write_text(to_stdout.stdout, encoding="utf-8")
        again = runner.invoke(args=["org", "import", str(path)])
        assert again.exit_code == 0 and "total: 0 created, 0 updated, 11 unchanged" in again.output, again.output


def test_documented_errors_are_what_the_import_prints(runner, db_session, tmp_path):
    """The refused CSV of the page, imported into the tree of its YAML example, prints exactly the documented
    lines and changes nothing; the YAML messages are printed for the mistakes they describe."""
    assert _import(runner, tmp_path / "full.yaml", blocks("yaml")[0]).exit_code == 0
    csv_out, yaml_out = _text_blocks()[0], _text_blocks()[1]
    result = _import(runner, tmp_path / "tree.csv", blocks("csv")[1])
    assert result.exit_code == 1
    assert result.output.replace(f"{tmp_path}/", "").splitlines() == csv_out.splitlines()
    assert db_session.scalar(select(Unit).where(Unit.code == "PD")) is None

    nested = ("levels:\n  - {code: city, rank: 0, name_vi: Tỉnh/Thành phố, name_en: Province/City}\n"
              "  - {code: district, rank: 1, name_vi: Quận/Huyện, name_en: District}\n"
              "units:\n  - code: CT\n    level: city\n    name_vi: Thành phố Cần Thơ\n    name_en: Can Tho City\n"
              "    units:\n      - code: NK\n        level: district\n        name_vi: Quận Ninh Kiều\n"
              "        name_en: Ninh Kieu District\n        colour: blue\n        parent: CT\n")  # lines 14, 15
    printed = _import(runner, tmp_path / "tree.yaml", nested).output
    printed += _import(runner, tmp_path / "tree.yaml", "levels:\n  - {code: city, rank: 0\n").output
    printed = printed.replace(f"{tmp_path}/", "")
    for line in yaml_out.splitlines():
        assert line in printed.splitlines(), (line, printed)


def test_documented_import_report_format(runner, db_session, tmp_path):
    """An import prints the documented count lines; the same file again changes nothing."""
    report = _text_blocks()[2]
    shape = [re.escape(line).replace(r"\ ", " ") for line in report.splitlines()]
    shape = [re.sub(r"\d+", r"\\d+", line) for line in shape]
    _import(runner, tmp_path / "tree.yaml", blocks("yaml")[0])
    again = runner.invoke(args=["org", "import", str(tmp_path / "tree.yaml")]).output.splitlines()
    assert len(again) == len(shape) and all(re.fullmatch(p, line) for p, line in zip(shape, again, strict=True))
    assert again[-1] == "total: 0 created, 0 updated, 11 unchanged"
