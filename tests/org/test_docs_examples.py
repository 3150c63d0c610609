"""The examples in docs/org-file-format.md import as documented (so the documentation cannot rot)."""

from __future__ import annotations

import re
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
