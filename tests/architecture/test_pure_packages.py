"""The statistics and questionnaire packages, and their tests, need no web stack (issue 13 §6)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _without_web(tmp_path: Path) -> dict[str, str]:
    """An environment where `import flask`, `flask_babel`, `sqlalchemy` and `survey` fail."""
    blocker = tmp_path / "blocked"
    for name in ("flask", "flask_babel", "flask_wtf", "flask_login", "sqlalchemy", "survey"):
        pkg = blocker / name
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text(f"raise ImportError('{name} is blocked in this test')\n", encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), str(ROOT)])
    return env


def test_pure_statistics_tests_run_without_flask(tmp_path):
    env = _without_web(tmp_path)
    probe = subprocess.run([sys.executable, "-c", "import flask"], env=env, capture_output=True, text=True,
                           check=False)
    assert probe.returncode != 0 and "blocked" in probe.stderr  # the blocker works
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/analysis/test_intervals.py", "tests/analysis/test_multiple.py", "tests/questionnaires"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "error" not in done.stdout.splitlines()[-1]
