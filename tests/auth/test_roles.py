"""Roles are defined once (survey/auth/roles.py): every role list the app uses comes from there."""

from __future__ import annotations

import ast
from pathlib import Path

from survey.auth import roles
from survey.auth.roles import Role

ROOT = Path(__file__).resolve().parents[2] / "survey"


def test_role_values_and_permissions():
    assert roles.ROLES == ("agency_viewer", "unit_manager", "home_affairs", "admin")
    assert Role.ADMIN == "admin" and "home_affairs" in roles.SEES_ALL
    assert set(roles.COMPARES_UNITS) == {"unit_manager", "home_affairs", "admin"}
    assert roles.ADMINISTERS == ("admin",)


def test_no_module_lists_roles_by_hand():
    """A tuple or list literal holding two or more role names anywhere in survey/ (outside roles.py) is a
    second definition of who may do what."""
    names = set(roles.ROLES)
    offenders = []
    for path in ROOT.rglob("*.py"):
        if path.name == "roles.py" or "demo" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Tuple | ast.List | ast.Set):
                values = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                if len([v for v in values if v in names]) >= 2:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
