"""Issue 13 §6 on the source: a view says what it returns (no `-> Any` page) and a session is a Session
(no `session: Any`), so mypy checks what pages hand to Flask and what services do with the database."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _functions() -> list[tuple[Path, ast.FunctionDef | ast.AsyncFunctionDef]]:
    out = []
    for path in sorted((ROOT / "survey").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((path, node))
    return out


def _is_any(annotation: ast.expr | None) -> bool:
    return annotation is not None and ast.unparse(annotation) in ("Any", "typing.Any")


def _is_route(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Decorated with `@<blueprint or app>.route(...)` / `.get(...)` / `.post(...)` / `.errorhandler(...)`."""
    for deco in node.decorator_list:
        call = deco.func if isinstance(deco, ast.Call) else deco
        if isinstance(call, ast.Attribute) and call.attr in ("route", "get", "post", "errorhandler"):
            return True
    return False


def test_no_view_returns_any():
    untyped = [f"{path.relative_to(ROOT)}:{node.lineno} {node.name}" for path, node in _functions()
               if _is_route(node) and (node.returns is None or _is_any(node.returns))]
    assert not untyped, untyped


def test_no_session_typed_as_any():
    loose = [f"{path.relative_to(ROOT)}:{node.lineno} {node.name}" for path, node in _functions()
             for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
             if arg.arg == "session" and _is_any(arg.annotation)]
    assert not loose, loose
