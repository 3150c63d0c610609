"""Service volume pages: Decision 766 ratio per agency and month (administrators and Home Affairs, read-only for
the latter), a grid per agency × year to type the figures, and a CSV/XLSX import with a dry run.  Replacing
or removing stored figures is confirmed first; every save is one audit event."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select

from survey.admin.blueprint import admin_required, bp, viewer_required
from survey.admin.checked_upload import CommitForm, confirmed, end_dry_run, read_upload, uploaded
from survey.dashboard import params
from survey.database import utcnow
from survey.extensions import db
from survey.forms import FlaskForm
from survey.i18n import LOCAL_TZ, current_lang
from survey.org import volumes_service as vs
from survey.org.models import Agency, ServicePoint
from survey.uploads import UPLOAD_LIMITS, drop_stash, stash_upload

MONTHS = range(1, 13)


class VolumeUploadForm(FlaskForm):
    file = FileField(_l("Service volumes (.csv or .xlsx)"), validators=[FileRequired(_l("Choose a file."))],
                     description=UPLOAD_LIMITS)


class VolumeCommitForm(CommitForm):
    """Confirms a checked volume file (survey/admin/checked_upload.py)."""


def _this_year() -> int:
    return utcnow().astimezone(LOCAL_TZ).year


def _year_arg() -> int:
    # in the address: 2000-2100 or a page saying so (it used to show this year without a word)
    year = params.whole("year", 2000, 2100) or request.form.get("year", type=int) or _this_year()
    return year if 2000 <= year <= 2100 else _this_year()


def _year_choices(year: int) -> list[int]:
    return sorted({*vs.years_with_volumes(db.session), _this_year(), year})


# ------------------------------------------------------------------------------------------ overview (766)
@bp.route("/volumes")
@viewer_required
def volumes() -> str:
    year = _year_arg()
    agencies, cells = vs.ratio_766(db.session, year)
    return render_template("admin/volumes.html", year=year, years=_year_choices(year), agencies=agencies,
                           cells=cells, months=MONTHS, lang=current_lang(), can_edit=current_user.role == "admin",
                           all_agencies=_agencies())


def _agencies() -> list[Agency]:
    return list(db.session.scalars(select(Agency).where(Agency.retired_at.is_(None)).order_by(Agency.code)))


# ------------------------------------------------------------------------------------------ grid
def _cell_names(sp: ServicePoint, year: int, month: int) -> tuple[str, str]:
    key = f"{sp.id}-{year}-{month:02d}"
    return f"d-{key}", f"x-{key}"


def _grid_entries(points: list[ServicePoint], year: int) -> tuple[list[vs.Entry], dict[str, str]]:
    entries: list[vs.Entry] = []
    errors: dict[str, str] = {}
    for sp in points:
        for month in MONTHS:
            d_name, x_name = _cell_names(sp, year, month)
            d_raw, x_raw = request.form.get(d_name, "").strip(), request.form.get(x_name, "").strip()
            period = date(year, month, 1)
            if not d_raw:
                if x_raw:
                    errors[d_name] = _("Enter the number of dossiers.")
                else:
                    entries.append(vs.Entry(sp, period, None))
                continue
            dossiers = vs.parse_count(d_raw)
            dissatisfied = vs.parse_count(x_raw) if x_raw else None
            if dossiers is None:
                errors[d_name] = _("Enter a whole number, 0 or more.")
            if x_raw and dissatisfied is None:
                errors[x_name] = _("Enter a whole number, 0 or more.")
            elif dossiers is not None and dissatisfied is not None and dissatisfied > dossiers:
                errors[x_name] = _("More than the number of dossiers (%(n)d).", n=dossiers)
            if d_name not in errors and x_name not in errors:
                entries.append(vs.Entry(sp, period, dossiers, dissatisfied))
    return entries, errors


@bp.route("/volumes/grid", methods=["GET", "POST"])
@admin_required
def volumes_grid() -> ResponseReturnValue:
    year = _year_arg()
    asked = params.whole("agency")  # in the address: an agency that exists, or a page saying so
    agency = db.session.get(Agency, asked or request.form.get("agency", type=int) or 0)
    if asked is not None and agency is None:
        raise params.unknown("agency", str(asked))
    ctx: dict[str, Any] = {"year": year, "years": _year_choices(year), "agency": agency, "agencies": _agencies(),
                           "months": MONTHS, "lang": current_lang(), "errors": {}, "plan": None, "values": {},
                           "cell_names": _cell_names}
    if agency is None:
        return render_template("admin/volumes_grid.html", **ctx), 400 if request.method == "POST" else 200
    points = [sp for sp in agency.service_points if sp.active]
    ctx["points"] = points
    if request.method == "GET":
        current = vs.stored(db.session, [sp.id for sp in points])
        for sp in points:
            for month in MONTHS:
                row = current.get((sp.id, date(year, month, 1)))
                if row is not None:
                    d_name, x_name = _cell_names(sp, year, month)
                    ctx["values"][d_name] = str(row.dossiers)
                    ctx["values"][x_name] = "" if row.dissatisfied_or_complaints is None \
                        else str(row.dissatisfied_or_complaints)
        return render_template("admin/volumes_grid.html", **ctx)
    ctx["values"] = request.form
    if not FlaskForm().validate_on_submit():
        flash(_("The form has expired; please try again."), "error")
        return render_template("admin/volumes_grid.html", **ctx), 400
    entries, errors = _grid_entries(points, year)
    if errors:
        ctx["errors"] = errors
        return render_template("admin/volumes_grid.html", **ctx), 400
    the_plan = vs.plan(db.session, entries)
    if the_plan.overwrites and request.form.get("confirm") != "y":
        ctx["plan"] = the_plan
        return render_template("admin/volumes_grid.html", **ctx)
    if the_plan.changes:
        vs.apply(db.session, the_plan, f"grid {agency.code} {year}")
        db.session.commit()
    flash(_("Service volumes saved: %(new)d new, %(replaced)d replaced, %(removed)d removed.",
            new=the_plan.count("new"), replaced=the_plan.count("replace"), removed=the_plan.count("remove"))
          if the_plan.changes else _("Nothing was changed."), "success")
    return redirect(url_for("admin.volumes_grid", agency=agency.id, year=year))


# ------------------------------------------------------------------------------------------ import
def _import_page(form: FlaskForm, status: int = 200, **ctx: Any) -> tuple[str, int]:
    ctx.setdefault("errors", [])
    ctx.setdefault("plan", None)
    return render_template("admin/volumes_import.html", form=form, **ctx), status


def _check(form: Any, filename: str, raw: bytes) -> tuple[vs.Plan | None, list[vs.RowError]]:
    """The plan of a file without row errors; (None, errors) otherwise, or (None, []) when the file is not a
    table (refused on `form`, see read_upload)."""
    table = read_upload(form, filename, raw)
    if table is None:
        return None, []
    entries, errors = vs.check_table(db.session, table)
    if errors:
        return None, errors
    return vs.plan(db.session, entries), []


@bp.route("/volumes/import", methods=["GET", "POST"])
@admin_required
def volumes_import() -> ResponseReturnValue:
    form = VolumeUploadForm()
    if not form.validate_on_submit():
        return _import_page(form, 400 if request.method == "POST" else 200)
    filename, raw = uploaded(form, "volumes.csv")
    the_plan, errors = _check(form, filename, raw)
    end_dry_run()
    if the_plan is None:
        return _import_page(form, 400, errors=errors)
    commit_form = VolumeCommitForm(formdata=None, filename=filename, upload=stash_upload(raw))
    return _import_page(form, plan=the_plan, filename=filename, commit_form=commit_form)


@bp.route("/volumes/import/commit", methods=["POST"])
@admin_required
def volumes_import_commit() -> ResponseReturnValue:
    upload_form = VolumeUploadForm(formdata=None)
    form = VolumeCommitForm()
    if (file := confirmed(form, "volumes.csv")) is None:
        return _import_page(upload_form, 400)
    filename, raw = file
    the_plan, errors = _check(None, filename, raw)
    if the_plan is None:
        end_dry_run()
        return _import_page(upload_form, 400, errors=errors)
    if the_plan.overwrites and request.form.get("confirm") != "y":  # shown again as the dry run, with the box
        end_dry_run()
        commit_form = VolumeCommitForm(formdata=None, filename=filename, upload=form.upload.data)
        return _import_page(upload_form, 400, plan=the_plan, filename=filename, commit_form=commit_form,
                            confirm_error=_("Tick the box to confirm."))
    if the_plan.changes:
        vs.apply(db.session, the_plan, f"import {filename}")
        db.session.commit()
    drop_stash(form.upload.data)
    flash(_("Service volumes imported from %(file)s: %(new)d new, %(replaced)d replaced, %(unchanged)d unchanged.",
            file=filename, new=the_plan.count("new"), replaced=the_plan.count("replace"),
            unchanged=the_plan.unchanged), "success")
    year = the_plan.changes[0].period.year if the_plan.changes else None
    return redirect(url_for("admin.volumes", year=year))
