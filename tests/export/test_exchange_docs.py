"""The commands of docs/exchange-format.md, and README's `python -m analysis` example, run on a small demo and
do what the page says: standard output by default, Parquet from the extension, the documented filters, the
documented column order (issue 12 §3: every example in the docs is run by a test)."""

from __future__ import annotations

import csv
import io
import re
import shlex
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "exchange-format.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def _block(text: str, lang: str, containing: str) -> str:
    return next(b for b in re.findall(rf"```{lang}\n(.*?)```", text, re.S) if containing in b)


def _commands(block: str, prefix: str) -> list[list[str]]:
    """The block's commands starting with `prefix`, continuation lines joined, comments dropped."""
    joined = block.replace("\\\n", " ")
    return [shlex.split(line.split("#")[0].strip()) for line in joined.splitlines()
            if line.strip().startswith(prefix)]


def _run(runner, argv: list[str], folder: Path) -> tuple[str, Path | None]:
    """Run a documented `flask --app wsgi …` line; a `> FILE` or `--output FILE` lands in `folder`."""
    args = argv[3:]
    target = None
    if ">" in args:
        target = folder / args[args.index(">") + 1]
        args = args[: args.index(">")]
    if "--output" in args:
        i = args.index("--output") + 1
        target = folder / args[i]
        args[i] = str(target)
    result = runner.invoke(args=args)
    assert result.exit_code == 0, (argv, result.output)
    if ">" in argv:
        assert target is not None
        target.write_text(result.stdout, encoding="utf-8")
    return result.stdout, target


@pytest.mark.demo_db(responses=1500)  # `flask demo --responses 1500`, loaded once per run
def test_documented_export_commands(runner, tmp_path):
    commands = _commands(_block(DOC, "sh", "responses export"), "flask --app wsgi")
    assert len(commands) == 3
    stdout, to_stdout = _run(runner, commands[0], tmp_path)
    assert stdout.startswith("response_id,submitted_at,")  # the data only: messages go to standard error
    whole = pd.read_csv(to_stdout, dtype=str, keep_default_na=False)
    from_parquet = pd.read_parquet(_run(runner, commands[1], tmp_path)[1])  # "format from the extension"
    assert list(from_parquet.columns) == list(whole.columns) and len(from_parquet) == len(whole)

    part = pd.read_csv(_run(runner, commands[2], tmp_path)[1], dtype=str, keep_default_na=False)
    assert 0 < len(part) < len(whole)
    assert set(part["questionnaire"]) == {"sipas-2017"}
    local = [datetime.fromisoformat(t).astimezone(VN).date().isoformat() for t in part["submitted_at"]]
    assert min(local) >= "2022-01-01" and max(local) <= "2022-06-30"
    assert (part["weight"] != "").all()  # --weights volume


@pytest.mark.demo_db(responses=1500)  # `flask demo --responses 1500`, loaded once per run
def test_documented_columns_are_the_exported_columns_in_order(runner):
    header = next(csv.reader(io.StringIO(_block(DOC, "csv", "response_id"))))
    real = next(csv.reader(io.StringIO(runner.invoke(args=["responses", "export"]).stdout)))
    fixed = header[: header.index("…")]
    assert real[: len(fixed)] == fixed  # identification, the 2022 levels, agency, service point, weight, first items
    named = [c for c in header if c != "…"]
    assert [c for c in real if c in named] == named  # every named column exists, in the documented order
    assert real[-1] == header[-1]


@pytest.mark.demo_db(responses=1500)  # `flask demo --responses 1500`, loaded once per run
def test_readme_analysis_example_runs_on_the_export(runner, tmp_path):
    """README's export, then `python -m analysis indices …` on the file it wrote (the example once read a file
    holding every questionnaire, which `--questionnaire sipas-2017` refuses, with the district as stratum,
    which city departments do not have)."""
    block = _block(README, "sh", "-m analysis")
    [export] = _commands(block, ".venv/bin/flask --app wsgi")
    _stdout, data = _run(runner, export, tmp_path)
    assert data is not None and data.name == "responses.parquet"
    commands = _commands(block, ".venv/bin/python -m analysis")
    assert commands
    for argv in commands:
        args = [str(data) if a == "responses.parquet" else a for a in argv[3:]]
        for sub in args[0].split("|"):
            done = subprocess.run([sys.executable, "-m", "analysis", sub, *args[1:]], cwd=tmp_path,
                                  capture_output=True, text=True, check=False, env={"PYTHONPATH": str(ROOT)})
            assert done.returncode == 0, (argv, done.stderr[-2000:])
            if sub == "indices":
                assert "agency" in done.stdout and "OVERALL" in done.stdout
