"""Every `flask --app wsgi …` command shown in README.md or docs/ names a command and options that exist
(issue 12 §3: "every example in the docs is run by a test").  Commands come from fenced blocks and inline
code alike; synopsis notation is read as a reader would: `[--opt X]` is an option one may add, `a|b` lists
alternatives (each is checked), a lone `…` stands for more of the same.  Whole examples are run end to end
next to their feature: tests/export/test_exchange_docs.py, tests/org/test_docs_examples.py,
tests/respond/test_api_docs_examples.py."""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FLASK = re.compile(r"(?:\.venv/bin/)?flask --app wsgi ((?:[^`\n\\#>]|\\\n)+)")


def documented_commands() -> list[tuple[str, str]]:
    """(where, command line after `flask --app wsgi`) for every mention, continuation lines joined."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in FLASK.finditer(text):
            line = text[: m.start()].count("\n") + 1
            command = " ".join(m.group(1).replace("\\\n", " ").split()).rstrip(" .,;:)")
            found.append((f"{doc.name}:{line}", command))
    return found


def variants(command: str) -> list[list[str]]:
    """The argument lists a synopsis stands for: brackets dropped (optional parts included), `…` dropped,
    every alternative of `a|b` (the product over tokens)."""
    words = shlex.split(command.replace("[", " ").replace("]", " "))
    kept = [w for i, w in enumerate(words) if w not in ("…", "...") or (i and words[i - 1].startswith("--"))]
    choices = [w.split("|") if "|" in w and not w.startswith("-") else [w] for w in kept]
    return [list(v) for v in itertools.product(*choices)]


COMMANDS = documented_commands()


def test_the_docs_show_commands():
    """The extraction finds the commands a reader sees (org import, responses export, demo, kiosks …)."""
    heads = {c.split()[0] for _w, c in COMMANDS}
    assert {"org", "responses", "demo", "kiosks", "db", "backup", "invitations", "quarantine"} <= heads
    assert len(COMMANDS) >= 25


@pytest.fixture(scope="module")
def cli():
    """The app's command line; `--help` never opens the database, so one in-memory app serves every case."""
    from survey import create_app

    return create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "docs"}).test_cli_runner()


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[w for w, _c in COMMANDS])
def test_documented_command_exists_with_its_options(cli, where, command):
    for args in variants(command):
        if args[:2] == ["org", "import/export"]:  # a page title naming both commands
            args = ["org", "import"]
        result = cli.invoke(args=[*args, "--help"])
        assert result.exit_code == 0, f"{where}: flask --app wsgi {' '.join(args)}\n{result.output}"
