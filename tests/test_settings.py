"""Every setting is read in survey/config.py and documented in README's table (issue 13 §5)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from survey.config import OPTIONAL, ConfigError, Settings

ROOT = Path(__file__).resolve().parents[1]


def _environment_reads(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and \
                isinstance(node.value, ast.Name) and node.value.id == "os":
            lines.append(node.lineno)
    return lines


def test_only_config_reads_the_environment():
    """Other modules read app.config (or a config helper): one place lists, types and checks settings.
    (backup.py passes os.environ on to pg_dump's own environment; that is not reading a setting.)"""
    offenders = {}
    for path in (ROOT / "survey").rglob("*.py"):
        if path.name == "config.py":
            continue
        found = _environment_reads(path)
        if path.name == "backup.py":
            found = [n for n in found if "dict(os.environ)" not in path.read_text().splitlines()[n - 1]]
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}


def test_every_setting_is_in_the_readme_table():
    config = (ROOT / "survey" / "config.py").read_text(encoding="utf-8")
    names = set(OPTIONAL) | set(re.findall(r'environ(?:\.get)?[(\[]\s*"([A-Z_]+)"', config))
    names |= set(re.findall(r'_bool\("([A-Z_]+)"', config))
    assert {"SECRET_KEY", "DATABASE_URL", "HAILONG_PASSWORD_HASH", "HAILONG_KIOSK_THANKS_SECONDS"} <= names
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = "\n".join(line for line in readme.splitlines() if line.startswith("| `"))
    missing = sorted(n for n in names if not re.search(rf"`{n}[`=]", table))
    assert missing == []


def test_kiosk_timings_and_bootstrap_come_from_settings(monkeypatch):
    monkeypatch.setenv("HAILONG_KIOSK_THANKS_SECONDS", "9")
    monkeypatch.setenv("HAILONG_BOOTSTRAP_B", "800")
    cfg = Settings.from_env().to_flask()
    assert cfg["HAILONG_KIOSK_THANKS_SECONDS"] == 9 and cfg["HAILONG_BOOTSTRAP_B"] == 800
    monkeypatch.delenv("HAILONG_BOOTSTRAP_B")
    assert Settings.from_env().to_flask()["HAILONG_BOOTSTRAP_B"] == 500  # the default, defined once
    monkeypatch.setenv("HAILONG_KIOSK_HEARTBEAT_SECONDS", "often")
    with pytest.raises(ConfigError, match="HAILONG_KIOSK_HEARTBEAT_SECONDS must be a whole number"):
        Settings.from_env()


def test_the_design_is_checked_once_at_start_up(monkeypatch):
    monkeypatch.setenv("HAILONG_DESIGN", "stratified")
    with pytest.raises(ConfigError, match="HAILONG_DESIGN must be counters or clusters"):
        Settings.from_env()
