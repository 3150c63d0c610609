"""The layering of docs/contracts.md §7, checked on the source: who may import whom, and no cycle between
the packages of survey/ (issue 13: "the import graph has no cycle between packages")."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    """Modules a file imports, at module level or inside functions (a lazy import is still a dependency)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def _package(module: str) -> str | None:
    """survey.org.models → "org"; survey.config → "config"; anything outside survey → None."""
    parts = module.split(".")
    if parts[0] != "survey" or len(parts) < 2:
        return None
    return parts[1]


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in (ROOT / "survey").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        src = _package(".".join(rel.parts))
        if src is None:
            continue
        for mod in _imports(path):
            dst = _package(mod)
            if dst and dst != src and (ROOT / "survey" / dst).exists():
                graph[src].add(dst)
    return graph


def test_pure_packages_never_import_the_web_app():
    for pkg in ("analysis", "questionnaires"):
        for path in (ROOT / pkg).rglob("*.py"):
            bad = {m for m in _imports(path) if m.split(".")[0] in ("survey", "flask", "flask_babel", "sqlalchemy")}
            assert not bad, (path, bad)


def test_dashboard_reads_figures_through_results_only():
    for path in (ROOT / "survey" / "dashboard").rglob("*.py"):
        assert not {m for m in _imports(path) if m.split(".")[0] == "analysis"}, path


def test_domain_packages_never_import_admin_pages():
    for pkg in ("org", "respond", "auth", "results", "audit", "questionnaire_versions"):
        for path in (ROOT / "survey" / pkg).rglob("*.py"):
            assert not {m for m in _imports(path) if m.startswith("survey.admin")}, path


def test_no_cycle_between_the_packages_of_survey():
    graph = _graph()
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str], done: set[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in stack:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in done:
                visit(nxt, [*stack, nxt], done)
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start], done)
    assert cycles == []
