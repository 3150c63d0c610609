"""Tree pages: browse units, agencies and service points; create, rename, move, merge and retire them;
import/export the tree file with a dry run.  Every change goes through survey.org.service (rules and audit
live there once); nothing is deleted, so responses keep the agency they were given to."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from survey.admin.blueprint import ConfirmForm, admin_required, bp, get_or_404, viewer_required
from survey.admin.checked_upload import confirmed, end_dry_run, uploaded
from survey.admin.tree_forms import (
    KIND_LABELS,
    AgencyCreateForm,
    AgencyEditForm,
    ImportCommitForm,
    ImportForm,
    MergeUnitForm,
    ServicePointCreateForm,
    ServicePointEditForm,
    UnitCreateForm,
    UnitEditForm,
    agency_choices,
    level_choices,
    unit_choices,
)
from survey.admin.tree_nodes import (
    back_to_tree,
    form_status,
    life_cycle_page,
    merge_page,
    org_error,
    tree_done,
    tree_node,
)
from survey.dashboard import params
from survey.errors import N_, refuse, register
from survey.extensions import db
from survey.i18n import current_lang
from survey.org import service as svc
from survey.org.io import OrgFileError, read_text
from survey.org.io_import import ImportReport, export_csv, export_yaml, import_rows
from survey.org.models import Agency, Level, ServicePoint, Unit
from survey.results.integrity import set_opening_hours
from survey.uploads import RowError, TableError, drop_stash, stash_upload

MAX_TREE_FILE = 2 * 1024 * 1024
register({"tree_file_too_large": N_("The file is larger than 2 MB."),
          "tree_file_type_unknown": N_("Unknown file type: use .yaml, .yml or .csv.")})


def _form_page(form: Any, title: str, submit: str, back: str, status: int = 200, **extra: Any) -> tuple[str, int]:
    crumbs = [(url_for("admin.tree"), _("Tree")), (None, title)]
    return render_template("admin/form.html", form=form, title=title, submit=submit, back=back,
                           breadcrumbs=crumbs, **extra), status


# ------------------------------------------------------------------------------------------ browse
@bp.route("/tree")
@viewer_required
def tree() -> str:
    levels = db.session.scalars(select(Level).order_by(Level.rank)).all()
    roots = db.session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.code)).all()
    merged = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.merged_into_id.is_not(None)))}
    targets = {u.id: db.session.get(Unit, u.merged_into_id) for u in merged.values()}
    return render_template("admin/tree.html", levels=levels, roots=roots, merged_into=targets,
                           kind_labels=KIND_LABELS, lang=current_lang())


# ------------------------------------------------------------------------------------------ units
@bp.route("/units/new", methods=["GET", "POST"])
@admin_required
def unit_new() -> ResponseReturnValue:
    lang = current_lang()
    form = UnitCreateForm()
    form.level.choices = level_choices(lang)
    form.parent.choices = unit_choices(lang, none=True)
    if request.method == "GET" and request.args.get("parent"):
        params.prefill(form.parent, "parent")  # a unit that is not offered: a page saying so
        parent = db.session.get(Unit, int(form.parent.data or 0))
        if parent is not None:  # propose the level below the parent's
            below = db.session.scalar(select(Level).where(Level.rank > parent.level.rank).order_by(Level.rank))
            form.level.data = below.code if below else None
    if form.validate_on_submit():
        parent = db.session.get(Unit, int(form.parent.data)) if form.parent.data else None
        try:
            unit = svc.create_unit(db.session, code=form.code.data.strip(), name_vi=form.name_vi.data,
                                   name_en=form.name_en.data, level_code=form.level.data, parent=parent,
                                   valid_from=form.valid_from.data)
        except svc.OrgError as exc:
            org_error(form, exc)
        else:
            return tree_done(_("Unit %(code)s created.", code=unit.code))
    return _form_page(form, _("New unit"), _("Create unit"), url_for("admin.tree"), form_status(form))


@bp.route("/units/<int:unit_id>/edit", methods=["GET", "POST"])
@admin_required
def unit_edit(unit_id: int) -> ResponseReturnValue:
    lang = current_lang()
    unit = tree_node(Unit, unit_id)
    form = UnitEditForm(obj=unit if request.method == "GET" else None)
    form.parent.choices = unit_choices(lang, none=True, exclude=unit.id)
    if request.method == "GET":
        form.parent.data = str(unit.parent_id) if unit.parent_id else ""
    if form.validate_on_submit():
        parent = db.session.get(Unit, int(form.parent.data)) if form.parent.data else None
        try:
            changed = svc.update_unit(db.session, unit, name_vi=form.name_vi.data, name_en=form.name_en.data,
                                      parent=parent, valid_from=form.valid_from.data)
        except svc.OrgError as exc:
            org_error(form, exc)
        else:
            return tree_done(_("Unit %(code)s saved.", code=unit.code) if changed else _("Nothing was changed."))
    title = _("Rename or move unit %(code)s", code=unit.code)
    return _form_page(form, title, _("Save"), url_for("admin.tree"), form_status(form))


@bp.route("/units/<int:unit_id>/retire", methods=["GET", "POST"])
@admin_required
def unit_retire(unit_id: int) -> ResponseReturnValue:
    unit = tree_node(Unit, unit_id, state="open")
    if (refused := _root_refused(unit)) is not None:
        return refused
    active = [a.code for a in unit.agencies if a.retired_at is None]
    return life_cycle_page(
        ConfirmForm(), unit, lambda: svc.retire_unit(db.session, unit), _("Unit %(code)s retired.", code=unit.code),
        title=_("Retire unit %(code)s", code=unit.code),
        explanation=_("%(name)s will no longer appear as a current unit. Nothing is deleted: its past responses "
                      "stay reportable.", name=unit.name(current_lang())),
        details=[_("Its agencies stay as they are (retire or move them separately): %(codes)s",
                   codes=", ".join(active))] if active else [],
        submit=_("Retire unit"))


def _root_refused(unit: Unit) -> WerkzeugResponse | None:
    """The root cannot be merged or retired (the tree page offers neither); a typed URL or a forged POST
    gets the service's reason back on the tree page, and nothing changes."""
    try:
        svc.refuse_root(unit)
    except svc.OrgError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.tree"))
    return None


@bp.route("/units/<int:unit_id>/merge", methods=["GET", "POST"])
@admin_required
def unit_merge(unit_id: int) -> ResponseReturnValue:
    lang = current_lang()
    unit = tree_node(Unit, unit_id, state="open")
    if (refused := _root_refused(unit)) is not None:
        return refused
    form = MergeUnitForm()
    form.target.choices = unit_choices(lang, exclude=unit.id, level_rank=unit.level.rank)
    if not form.target.choices:
        back_to_tree(N_("There is no other active unit at the same level to merge into."))
    return merge_page(
        form, unit, lambda: int(form.target.data),
        lambda target: svc.merge_units(db.session, [unit], target, move_agencies=form.move_agencies.data),
        lambda target: _("Unit %(code)s merged into %(target)s.", code=unit.code, target=target.code),
        title=_("Merge unit %(code)s", code=unit.code),
        explanation=_("%(name)s is retired and marked as merged into the unit you choose. Its active child "
                      "units move under that unit. Past responses keep their agency, so reports on earlier "
                      "periods are unchanged; new responses use the new structure.", name=unit.name(lang)))


# ------------------------------------------------------------------------------------------ agencies
@bp.route("/agencies/new", methods=["GET", "POST"])
@admin_required
def agency_new() -> ResponseReturnValue:
    lang = current_lang()
    form = AgencyCreateForm()
    form.unit.choices = unit_choices(lang)
    if request.method == "GET":
        params.prefill(form.unit, "unit")
    if form.validate_on_submit():
        unit = get_or_404(db.session, Unit, int(form.unit.data))
        try:
            agency = svc.create_agency(db.session, code=form.code.data.strip(), name_vi=form.name_vi.data,
                                       name_en=form.name_en.data, unit=unit, kind=form.kind.data)
        except svc.OrgError as exc:
            org_error(form, exc)
        else:
            return tree_done(_("Agency %(code)s created.", code=agency.code))
    return _form_page(form, _("New agency"), _("Create agency"), url_for("admin.tree"), form_status(form))


@bp.route("/agencies/<int:agency_id>/edit", methods=["GET", "POST"])
@admin_required
def agency_edit(agency_id: int) -> ResponseReturnValue:
    lang = current_lang()
    agency = tree_node(Agency, agency_id)
    form = AgencyEditForm(obj=agency if request.method == "GET" else None)
    form.unit.choices = unit_choices(lang)
    if str(agency.unit_id) not in {c for c, _label in form.unit.choices}:  # its unit was retired
        form.unit.choices.insert(0, (str(agency.unit_id), agency.unit.code))
    if request.method == "GET":
        form.unit.data = str(agency.unit_id)
    if form.validate_on_submit():
        unit = get_or_404(db.session, Unit, int(form.unit.data))
        try:
            changed = svc.update_agency(db.session, agency, name_vi=form.name_vi.data, name_en=form.name_en.data,
                                        kind=form.kind.data, unit=unit)
        except svc.OrgError as exc:
            org_error(form, exc)
        else:
            return tree_done(_("Agency %(code)s saved.", code=agency.code) if changed else _("Nothing was changed."))
    return _form_page(form, _("Rename or move agency %(code)s", code=agency.code), _("Save"),
                      url_for("admin.tree"), form_status(form))


@bp.route("/agencies/<int:agency_id>/retire", methods=["GET", "POST"])
@admin_required
def agency_retire(agency_id: int) -> ResponseReturnValue:
    agency = tree_node(Agency, agency_id, state="open")
    sps = [sp.code for sp in agency.service_points if sp.active]
    return life_cycle_page(
        ConfirmForm(), agency, lambda: svc.retire_agency(db.session, agency),
        _("Agency %(code)s retired.", code=agency.code), title=_("Retire agency %(code)s", code=agency.code),
        explanation=_("%(name)s stops receiving responses. Nothing is deleted: its past responses stay "
                      "reportable.", name=agency.name(current_lang())),
        details=[_("These service points are closed too: %(codes)s", codes=", ".join(sps))] if sps else [],
        submit=_("Retire agency"))


# ------------------------------------------------------------------------------------------ service points
@bp.route("/service-points/new", methods=["GET", "POST"])
@admin_required
def service_point_new() -> ResponseReturnValue:
    lang = current_lang()
    form = ServicePointCreateForm()
    form.agency.choices = agency_choices(lang)
    if request.method == "GET":
        params.prefill(form.agency, "agency")
    if form.validate_on_submit():
        agency = get_or_404(db.session, Agency, int(form.agency.data))
        try:
            sp = svc.create_service_point(
                db.session, code=form.code.data.strip(), name_vi=form.name_vi.data, name_en=form.name_en.data,
                agency=agency, kiosk_instrument=form.kiosk_instrument.data.strip(),
                link_instrument=form.link_instrument.data.strip(),
                official_on_duty=(form.official_on_duty.data or "").strip() or None)
            set_opening_hours(db.session, sp, form.opening_hours.data)
        except svc.OrgError as exc:
            org_error(form, exc)
        else:
            return tree_done(_("Service point %(code)s created.", code=sp.code))
    return _form_page(form, _("New service point"), _("Create service point"), url_for("admin.tree"),
                      form_status(form))


@bp.route("/service-points/<int:sp_id>/edit", methods=["GET", "POST"])
@admin_required
def service_point_edit(sp_id: int) -> ResponseReturnValue:
    lang = current_lang()
    sp = tree_node(ServicePoint, sp_id)
    form = ServicePointEditForm(obj=sp if request.method == "GET" else None)
    form.agency.choices = agency_choices(lang)
    if str(sp.agency_id) not in {c for c, _label in form.agency.choices}:
        form.agency.choices.insert(0, (str(sp.agency_id), sp.agency.code))
    if request.method == "GET":
        form.agency.data = str(sp.agency_id)
    if form.validate_on_submit():
        agency = get_or_404(db.session, Agency, int(form.agency.data))
        try:
            changed = svc.update_service_point(
                db.session, sp, name_vi=form.name_vi.data.strip(), name_en=form.name_en.data.strip(), agency=agency,
                kiosk_instrument=form.kiosk_instrument.data.strip(), link_instrument=form.link_instrument.data.strip(),
                official_on_duty=(form.official_on_duty.data or "").strip() or None)
            changed = set_opening_hours(db.session, sp, form.opening_hours.data) or changed
        except svc.OrgError as exc:
            org_error(form, exc)
        else:
            return tree_done(_("Service point %(code)s saved.", code=sp.code) if changed else _("Nothing was changed."))
    return _form_page(form, _("Rename or move service point %(code)s", code=sp.code), _("Save"),
                      url_for("admin.tree"), form_status(form))


@bp.route("/service-points/<int:sp_id>/retire", methods=["GET", "POST"])
@admin_required
def service_point_retire(sp_id: int) -> ResponseReturnValue:
    sp = tree_node(ServicePoint, sp_id, state="open")
    return life_cycle_page(
        ConfirmForm(), sp, lambda: svc.retire_service_point(db.session, sp),
        _("Service point %(code)s retired.", code=sp.code), title=_("Retire service point %(code)s", code=sp.code),
        explanation=_("%(name)s stops accepting responses from kiosks and QR links. Nothing is deleted.",
                      name=sp.name(current_lang())),
        submit=_("Retire service point"))


# ------------------------------------------------------------------------------------------ import / export
@bp.route("/tree/export.<fmt>")
@viewer_required
def tree_export(fmt: str) -> Response:
    if fmt not in ("yaml", "csv"):
        abort(404)
    text = export_yaml(db.session) if fmt == "yaml" else export_csv(db.session)
    mimetype = "text/csv" if fmt == "csv" else "application/yaml"
    return Response(text.encode("utf-8"), content_type=f"{mimetype}; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="hailong-tree.{fmt}"'})


def _format_of(filename: str) -> str | None:
    lower = filename.lower()
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    return "csv" if lower.endswith(".csv") else None


def _import_page(form: ImportForm, status: int = 200, **ctx: Any) -> tuple[str, int]:
    ctx.setdefault("report", None)
    ctx.setdefault("errors", [])
    ctx.setdefault("commit_form", None)
    return render_template("admin/tree_import.html", form=form, **ctx), status


def _check(form: ImportForm | None, filename: str, raw: bytes) -> tuple[ImportReport | None, list[RowError]]:
    """Run the importer inside the transaction, leaving it open for the caller to commit or end the dry run.
    Returns (report, []) or (None, row errors); a file that cannot be read as text of a known type is
    refused on `form` (or flashed, for a confirmation) and gives (None, [])."""
    if len(raw) > MAX_TREE_FILE:
        refuse(form, TableError("tree_file_too_large"))
        return None, []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        refuse(form, TableError("table_not_utf8"))
        return None, []
    fmt = _format_of(filename)
    if fmt is None:
        refuse(form, TableError("tree_file_type_unknown"))
        return None, []
    try:
        rows, errors = read_text(text, filename, fmt)
        return import_rows(db.session, rows, filename, errors), []
    except OrgFileError as exc:
        return None, exc.errors


@bp.route("/tree/import", methods=["GET", "POST"])
@admin_required
def tree_import() -> ResponseReturnValue:
    """Check → dry run: every problem, or what the import would change; nothing is written."""
    form = ImportForm()
    if not form.validate_on_submit():
        return _import_page(form, form_status(form))
    filename, raw = uploaded(form, "tree.csv")
    report, errors = _check(form, filename, raw)
    end_dry_run()
    if report is None:
        return _import_page(form, 400, errors=errors, filename=filename)
    commit_form = ImportCommitForm(formdata=None, filename=filename, upload=stash_upload(raw))
    return _import_page(form, report=report, filename=filename, commit_form=commit_form)


@bp.route("/tree/import/commit", methods=["POST"])
@admin_required
def tree_import_commit() -> ResponseReturnValue:
    """The confirmation: the checked file is checked again and imported whole, or nothing is."""
    upload_form = ImportForm(formdata=None)
    form = ImportCommitForm()
    if (file := confirmed(form, "tree.csv")) is None:
        return _import_page(upload_form, 400)
    filename, raw = file
    report, errors = _check(None, filename, raw)
    if report is None:
        end_dry_run()
        return _import_page(upload_form, 400, errors=errors, filename=filename)
    db.session.commit()
    drop_stash(form.upload.data)
    t = report.total
    flash(_("Tree imported: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
            created=t["created"], updated=t["updated"], unchanged=t["unchanged"]), "success")
    return redirect(url_for("admin.tree"))
