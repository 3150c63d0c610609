"""The administration landing page and the list of admin sections.

Importing this module registers every section's routes on the `admin` blueprint (survey/blueprints.py
registers `bp` from here).  SECTIONS lists the landing page's links by endpoint; an endpoint that is not
registered (a section still being written) is simply left out, as in survey/nav.py.  The questionnaire,
volume and paper-import lines name the endpoints those pages are expected to have: whoever writes them
corrects their line here if the names differ (a section module on this blueprint is imported below).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from survey.admin import (  # noqa: F401  (each module adds its routes to bp)
    audit_views,
    invitation_views,
    kiosk_views,
    paper_views,
    questionnaires_views,
    tree_merge_views,
    tree_views,
    user_views,
    volumes_views,
)
from survey.admin.blueprint import ADMIN, VIEWERS, bp, viewer_required


@dataclass(frozen=True)
class Section:
    endpoint: str
    title: object
    description: object
    roles: tuple[str, ...] = ADMIN


SECTIONS: list[Section] = [
    Section("admin.tree", _l("Tree"), _l("Units, agencies and service points; import and export the tree file."),
            VIEWERS),
    Section("admin.kiosks", _l("Kiosks"), _l("Enrol, rename and revoke kiosks; see which are offline."), VIEWERS),
    Section("admin.invitations", _l("Invitations"), _l("Batches of single-use QR receipts: print, follow, revoke.")),
    Section("admin.users", _l("Users"), _l("Staff accounts, roles and scopes; password changes.")),
    Section("admin.questionnaires", _l("Questionnaires"),
            _l("Upload, preview, publish and retire questionnaire versions; assign them to service points.")),
    Section("admin.volumes", _l("Service volumes"), _l("Dossiers handled per service point and month."), VIEWERS),
    Section("admin.paper", _l("Paper surveys"), _l("Import paper questionnaires typed into a CSV or XLSX file.")),
    Section("admin.audit", _l("Audit log"), _l("Every administrative action: who, what, when, before and after."),
            VIEWERS),
]


def visible_sections() -> list[tuple[str, str, str]]:
    out = []
    for s in SECTIONS:
        if current_user.role not in s.roles:
            continue
        try:
            out.append((url_for(s.endpoint), str(s.title), str(s.description)))
        except Exception:  # not registered (yet)
            continue
    return out


@bp.route("/")
@viewer_required
def index() -> str:
    return render_template("admin/index.html", sections=visible_sections())
