"""`python -m questionnaires validate FILE...`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from questionnaires.__main__ import main
from questionnaires.loader import shipped


def test_shipped_files_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *map(str, shipped())]) == 0
    assert capsys.readouterr().out == ""


def test_problems_are_printed_as_file_path_message(tmp_path: Path) -> None:
    d = json.loads(shipped()[0].read_text(encoding="utf-8"))
    d["sections"][0]["items"][0]["scale"] = "nope"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "questionnaires", "validate", str(bad), str(broken)],
                          cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert f"{bad}: sections[0].items[0].scale: unknown scale 'nope' (defined: sat3)" in lines
    assert any(line.startswith(f"{broken}: line 1, column 2: malformed JSON") for line in lines)
