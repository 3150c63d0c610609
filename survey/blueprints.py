"""Blueprint registry: each domain package contributes its blueprints here (one line each)."""

from __future__ import annotations

import importlib

from flask import Flask

# module path → attribute holding a Blueprint (or a list of them); missing modules are a bug, not optional
BLUEPRINTS: list[tuple[str, str]] = [
    ("survey.web", "bp"),
    ("survey.auth.views", "bp"),
    ("survey.respond.link", "bp"),
    ("survey.respond.kiosk", "bp"),
    ("survey.respond.speech", "bp"),
    ("survey.respond.api", "bp"),
    ("survey.dashboard.compare_views", "bp"),
    ("survey.dashboard.report", "bp"),
    ("survey.dashboard.agency", "bp"),
    ("survey.admin.views", "bp"),
    ("survey.dashboard.integrity_views", "bp"),
    ("survey.dashboard.topic_views", "bp"),
]


def register(app: Flask) -> None:
    for module_name, attr in BLUEPRINTS:
        module = importlib.import_module(module_name)
        found = getattr(module, attr)
        for bp in found if isinstance(found, list | tuple) else [found]:
            app.register_blueprint(bp)
