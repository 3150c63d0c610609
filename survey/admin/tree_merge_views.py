"""Tree pages for merging an agency or a service point into another, and bringing a
retired unit or agency back.  As everywhere in the tree, the rules and the audit live in survey.org.service;
these pages choose sensible targets, ask for confirmation and show refusals in the user's language."""

from __future__ import annotations

from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import BooleanField, SelectField
from wtforms.validators import DataRequired

from survey.admin.blueprint import ConfirmForm, admin_required, bp
from survey.admin.tree_forms import agency_choices
from survey.admin.tree_nodes import back_to_tree, life_cycle_page, merge_page, tree_node
from survey.errors import N_
from survey.extensions import db
from survey.forms import FlaskForm
from survey.i18n import current_lang
from survey.org import service as svc
from survey.org.models import Agency, ServicePoint, Unit


class MergeTargetForm(FlaskForm):
    """The target is checked in the view, not by WTForms, so that choosing the item itself reaches the
    service and gets its precise refusal rather than a generic 'not a valid choice'."""

    target = SelectField(_l("Merge into"), choices=[], validate_choice=False,
                         validators=[DataRequired(_l("Choose where to merge it."))])
    confirm = BooleanField(_l("Yes, I understand what this does"),
                           validators=[DataRequired(_l("Tick the box to confirm."))])


class ReactivateAgencyForm(ConfirmForm):
    reopen = BooleanField(_l("Also reopen its closed service points"), default=False)


def service_point_choices(lang: str, exclude: int) -> list[tuple[str, str]]:
    stmt = select(ServicePoint).where(ServicePoint.active.is_(True)).order_by(ServicePoint.code)
    return [(str(sp.id), f"{sp.code} — {sp.name(lang)} ({sp.agency.code})")
            for sp in db.session.scalars(stmt) if sp.id != exclude]


def _target_id(form: MergeTargetForm, own_id: int) -> int | None:
    """The chosen id if it is one of the offered targets or the item itself (refused by the service)."""
    raw = form.target.data or ""
    if raw == str(own_id) or raw in {value for value, _label in form.target.choices}:
        return int(raw)
    form.target.errors = [*form.target.errors, _("Choose one of the listed targets.")]
    return None


@bp.route("/agencies/<int:agency_id>/merge", methods=["GET", "POST"])
@admin_required
def agency_merge(agency_id: int) -> ResponseReturnValue:
    lang = current_lang()
    agency = tree_node(Agency, agency_id, state="open")
    form = MergeTargetForm()
    form.target.choices = agency_choices(lang, exclude=agency.id)
    if not form.target.choices:
        back_to_tree(N_("There is no other active agency to merge into."))
    sps = [sp.code for sp in agency.service_points]
    return merge_page(
        form, agency, lambda: _target_id(form, agency.id),
        lambda target: svc.merge_agencies(db.session, [agency], target),
        lambda target: _("Agency %(code)s merged into %(target)s.", code=agency.code, target=target.code),
        title=_("Merge agency %(code)s", code=agency.code),
        explanation=_("%(name)s is retired and its service points (with their kiosks) move to the agency you "
                      "choose. Past responses keep their original agency, so reports on earlier periods are "
                      "unchanged; new responses go to the chosen agency.", name=agency.name(lang)),
        details=[_("These service points move to the chosen agency: %(codes)s", codes=", ".join(sps))] if sps else [])


@bp.route("/service-points/<int:sp_id>/merge", methods=["GET", "POST"])
@admin_required
def service_point_merge(sp_id: int) -> ResponseReturnValue:
    lang = current_lang()
    sp = tree_node(ServicePoint, sp_id, state="open")
    form = MergeTargetForm()
    form.target.choices = service_point_choices(lang, exclude=sp.id)
    if not form.target.choices:
        back_to_tree(N_("There is no other active service point to merge into."))
    kiosks = [k.code for k in sp.kiosks]
    return merge_page(
        form, sp, lambda: _target_id(form, sp.id),
        lambda target: svc.merge_service_points(db.session, [sp], target),
        lambda target: _("Service point %(code)s merged into %(target)s.", code=sp.code, target=target.code),
        title=_("Merge service point %(code)s", code=sp.code),
        explanation=_("%(name)s stops accepting responses and its kiosks move to the service point you choose. "
                      "Past responses keep their original service point.", name=sp.name(lang)),
        details=[_("These kiosks move to the chosen service point: %(codes)s", codes=", ".join(kiosks))]
        if kiosks else [])


@bp.route("/units/<int:unit_id>/reactivate", methods=["GET", "POST"])
@admin_required
def unit_reactivate(unit_id: int) -> ResponseReturnValue:
    unit = tree_node(Unit, unit_id, state="retired")
    details = []
    if unit.merged_into_id is not None:
        target = db.session.get(Unit, unit.merged_into_id)
        details.append(_("It is no longer marked as merged into %(code)s. Units and agencies that moved there "
                         "stay where they are (move them back separately).", code=target.code if target else "?"))
    if unit.parent is not None and unit.parent.retired_at is not None:
        details.append(_("Its parent unit %(code)s is still retired.", code=unit.parent.code))
    return life_cycle_page(
        ConfirmForm(), unit, lambda: svc.reactivate_unit(db.session, unit),
        _("Unit %(code)s reactivated.", code=unit.code), title=_("Reactivate unit %(code)s", code=unit.code),
        explanation=_("%(name)s becomes a current unit again.", name=unit.name(current_lang())),
        details=details, submit=_("Reactivate unit"))


@bp.route("/agencies/<int:agency_id>/reactivate", methods=["GET", "POST"])
@admin_required
def agency_reactivate(agency_id: int) -> ResponseReturnValue:
    agency = tree_node(Agency, agency_id, state="retired")
    form = ReactivateAgencyForm()
    closed = [sp for sp in agency.service_points if not sp.active]

    def reactivate() -> None:
        svc.reactivate_agency(db.session, agency)
        for sp in closed if form.reopen.data else []:
            svc.reactivate_service_point(db.session, sp)

    details = [_("Its closed service points: %(codes)s", codes=", ".join(sp.code for sp in closed))] if closed else []
    if agency.unit.retired_at is not None:
        details.append(_("Its unit %(code)s is retired.", code=agency.unit.code))
    return life_cycle_page(
        form, agency, reactivate, _("Agency %(code)s reactivated.", code=agency.code),
        title=_("Reactivate agency %(code)s", code=agency.code),
        explanation=_("%(name)s can receive responses again once it has an open service point.",
                      name=agency.name(current_lang())),
        details=details, submit=_("Reactivate agency"))


@bp.route("/service-points/<int:sp_id>/reactivate", methods=["GET", "POST"])
@admin_required
def service_point_reactivate(sp_id: int) -> ResponseReturnValue:
    sp = tree_node(ServicePoint, sp_id, state="retired")
    retired_agency = sp.agency.retired_at is not None
    return life_cycle_page(
        ConfirmForm(), sp, lambda: svc.reactivate_service_point(db.session, sp),
        _("Service point %(code)s reactivated.", code=sp.code),
        title=_("Reactivate service point %(code)s", code=sp.code),
        explanation=_("%(name)s accepts responses again (kiosks, survey links and paper forms).",
                      name=sp.name(current_lang())),
        details=[_("Its agency %(code)s is still retired.", code=sp.agency.code)] if retired_agency else [],
        submit=_("Reactivate service point"))
