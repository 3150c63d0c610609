"""One convention for every export command: standard output by default, `--output -` means standard output
too, `--output FILE` writes the file; the data alone goes to standard output, messages to standard error."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from tests.export.test_export import responses  # noqa: F401  (the fixture: a handful of stored responses)

EXPORTS = [["responses", "export"], ["org", "export"]]


@pytest.mark.parametrize("command", EXPORTS)
@pytest.mark.parametrize("dash", [[], ["--output", "-"]])
def test_export_writes_to_standard_output_by_default_and_with_a_dash(runner, responses, command, dash):  # noqa: F811
    result = runner.invoke(args=[*command, *dash])
    assert result.exit_code == 0, result.output
    if command[0] == "responses":
        frame = pd.read_csv(io.StringIO(result.stdout), dtype=str, keep_default_na=False)
        assert len(frame) >= 1 and "response_id" in frame.columns
        assert "wrote" in result.stderr and "wrote" not in result.stdout
    else:
        assert result.stdout.startswith(("levels:", "#", "version", "units", "-")) or "code:" in result.stdout


@pytest.mark.parametrize("command", EXPORTS)
def test_export_to_a_file_writes_the_file(runner, responses, tmp_path, command):  # noqa: F811
    out = tmp_path / ("out.csv" if command[0] == "responses" else "tree.yaml")
    result = runner.invoke(args=[*command, "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and out.stat().st_size > 0
    assert result.stdout.strip() == ""  # nothing but the data ever goes to standard output
