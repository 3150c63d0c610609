"""End to end: demo → `responses export --weights volume` → `python -m analysis indices` recovers the truth.

The demo's true values (docs/demo-truth-2022.csv) are what volume-weighted estimates target, so the
analysis package reading the exported file must land close to them, with nominal-looking coverage.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from survey.demo.truth import truth_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_exported_demo_estimates_cover_the_true_values(runner, db_session, tmp_path):
    assert runner.invoke(args=["demo", "--responses", "12000"]).exit_code == 0
    data = tmp_path / "sipas.parquet"
    result = runner.invoke(args=["responses", "export", "--questionnaire", "sipas-2017", "--weights", "volume",
                                 "--output", str(data)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "indices.csv"
    done = subprocess.run([sys.executable, "-m", "analysis", "indices", str(data), "--questionnaire", "sipas-2017",
                           "--by", "agency", "--weights", "weight", "--ci", "taylor", "--output", str(out)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    est = pd.read_csv(out)
    est["agency"] = np.where(est["by"] == "all", "ALL", est["domain"])
    truth = pd.read_csv(truth_path("2022"))
    merged = est.merge(truth[truth["instrument"] == "sipas-2017"], on=["agency", "measure"])
    city = merged[(merged["agency"] == "ALL") & (merged["measure"] == "OVERALL")].iloc[0]
    assert city["ci_low"] <= city["true_value"] <= city["ci_high"]
    assert abs(city["estimate"] - city["true_value"]) < 0.03
    rated = merged[merged["ci_low"].notna() & (merged["kind"] == "item")]
    assert len(rated) > 500
    coverage = ((rated["ci_low"] <= rated["true_value"]) & (rated["true_value"] <= rated["ci_high"])).mean()
    assert 0.88 < coverage < 0.99
