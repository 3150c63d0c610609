"""Which questionnaire each service point offers on its kiosk and on phones: one row per service point, or
all service points of an agency at once.  A service point names an instrument (e.g. `sipas-2017`), not a
version, and offers that instrument's latest published version; changes go through survey.org.service
(validated and audited there, one event per changed service point)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from survey.admin.blueprint import admin_required, bp
from survey.extensions import db
from survey.forms import FlaskForm
from survey.i18n import current_lang
from survey.org import service as svc
from survey.org.models import Agency, ServicePoint
from survey.questionnaire_versions.models import QuestionnaireVersion

KEEP = ""


def instrument_choices() -> list[str]:
    """Instruments with a published version (the only ones a service point can usefully offer)."""
    return sorted(set(db.session.scalars(select(QuestionnaireVersion.instrument)
                                         .where(QuestionnaireVersion.status == "published"))))


def _points() -> list[ServicePoint]:
    return list(db.session.scalars(select(ServicePoint).join(Agency).where(
        ServicePoint.active.is_(True), Agency.retired_at.is_(None)).order_by(Agency.code, ServicePoint.code)))


def _page(errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    agencies = db.session.scalars(select(Agency).where(Agency.retired_at.is_(None)).order_by(Agency.code)).all()
    return render_template("admin/questionnaire_assign.html", points=_points(), agencies=agencies,
                           instruments=instrument_choices(), errors=errors, lang=current_lang(),
                           form_values=request.form if request.method == "POST" else {}), status


def _apply(changes: list[tuple[ServicePoint, dict[str, str]]]) -> int:
    changed = 0
    for sp, values in changes:
        changed += svc.update_service_point(db.session, sp, audit=True, **values)
    db.session.commit()
    return changed


@bp.route("/questionnaires/assign", methods=["GET", "POST"])
@admin_required
def questionnaire_assign() -> ResponseReturnValue:
    if request.method == "GET":
        return _page({})
    if not FlaskForm().validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return _page({}, 400)
    allowed = set(instrument_choices())
    errors: dict[str, str] = {}
    changes: list[tuple[ServicePoint, dict[str, str]]] = []
    if request.form.get("scope") == "agency":
        agency = db.session.get(Agency, request.form.get("agency", type=int) or 0)
        if agency is None or agency.retired_at is not None:
            errors["agency"] = _("Choose an agency.")
        values = {}
        for field in ("kiosk_instrument", "link_instrument"):
            value = request.form.get(field, KEEP)
            if value != KEEP and value not in allowed:
                errors[field] = _("Choose a published questionnaire.")
            elif value != KEEP:
                values[field] = value
        if not values and not errors:
            errors["kiosk_instrument"] = _("Choose a questionnaire for the kiosks, the phones or both.")
        if not errors:
            changes = [(sp, values) for sp in agency.service_points if sp.active]  # type: ignore[union-attr]
    else:
        for sp in _points():
            values = {}
            for field, prefix in (("kiosk_instrument", "kiosk"), ("link_instrument", "link")):
                chosen = request.form.get(f"{prefix}-{sp.id}")
                if chosen is None or chosen == getattr(sp, field):
                    continue
                if chosen not in allowed:
                    errors[f"{prefix}-{sp.id}"] = _("Choose a published questionnaire.")
                else:
                    values[field] = chosen
            if values:
                changes.append((sp, values))
    if errors:
        return _page(errors, 400)
    changed = _apply(changes)
    flash(_("Service points changed: %(num)d.", num=changed) if changed
          else _("Nothing was changed."), "success")
    return redirect(url_for("admin.questionnaire_assign"))
