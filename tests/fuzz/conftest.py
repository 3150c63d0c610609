"""Fixtures of the fuzz suite (tests/fuzz/kit.py says what it checks and how to run the long version)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fuzz.kit import TALLY, Rows


@pytest.fixture
def rows(app: Any) -> Rows:
    return Rows()


@pytest.fixture
def fuzz_app(app: Any) -> Any:
    """The test app with per-device/per-kiosk caps lifted, so examples reach the code behind them
    (the limiter's memory storage is also reset before each example with `fresh_limits`)."""
    app.config.update({"HAILONG_KIOSK_MIN_INTERVAL_SECONDS": 0, "HAILONG_KIOSK_API_LIMIT": "1000000 per minute",
                       "HAILONG_LINK_DEVICE_LIMIT": "1000000 per hour"})
    return app


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Cases sent per target and their HTTP statuses (the figures of the long run in docs/security.md)."""
    if not TALLY:
        return
    terminalreporter.section("fuzz cases per target (HTTP status: cases)")
    for target, statuses in sorted(TALLY.items()):
        detail = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
        terminalreporter.write_line(f"{target}: {sum(statuses.values())} cases, "
                                    f"5xx: {sum(n for c, n in statuses.items() if c >= 500)} ({detail})")
