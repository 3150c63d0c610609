"""User pages: list, create (role + scope), change role/scope, deactivate/reactivate, force a password change.
Rules (nobody changes their own role or deactivates themselves; scoped roles need a scope; 12-character
passwords) are in survey.auth.user_service; the forms repeat the easy ones for friendly messages."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from survey.admin.blueprint import ConfirmForm, admin_required, bp, get_or_404
from survey.admin.tree_forms import OrderedForm, agency_choices, unit_choices
from survey.auth import user_service as us
from survey.auth.models import ROLES, User
from survey.errors import refuse
from survey.extensions import db
from survey.forms import FlaskForm
from survey.i18n import current_lang
from survey.org.models import Agency, Unit

ROLE_LABELS = {"agency_viewer": _l("Agency viewer (one agency)"),
               "unit_manager": _l("Unit manager (a unit and the units below it)"),
               "home_affairs": _l("Home Affairs (everything, read-only)"),
               "admin": _l("Administrator")}
PASSWORD_HINT = _l("At least 12 characters. Give it to the person privately; they must change it at the first login.")


class UserEditForm(OrderedForm):
    ORDER = ("username", "display_name", "role", "agency", "unit", "password", "password2", "must_change_password")
    display_name = StringField(_l("Full name"), validators=[DataRequired(_l("Enter a name.")), Length(max=200)])
    role = SelectField(_l("Role"), choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES])
    agency = SelectField(_l("Agency (for an agency viewer)"), choices=[], validate_choice=False)
    unit = SelectField(_l("Unit (for a unit manager)"), choices=[], validate_choice=False)


class UserCreateForm(UserEditForm):
    username = StringField(_l("User name"), validators=[DataRequired(_l("Enter a user name.")), Length(max=64)])
    password = PasswordField(_l("Initial password"), description=PASSWORD_HINT,
                             validators=[DataRequired(_l("Enter a password.")),
                                         Length(min=us.PASSWORD_MIN, max=us.PASSWORD_MAX,
                                                message=_l("The password must have at least 12 characters."))])
    password2 = PasswordField(_l("Repeat the password"),
                              validators=[EqualTo("password", _l("The two passwords differ."))])
    must_change_password = BooleanField(_l("Must choose a new password at the first login"), default=True)


class ResetForm(FlaskForm):
    temporary = PasswordField(_l("New temporary password (optional)"),
                              description=_l("Leave empty to keep the current password: the user then logs in "
                                             "with it and must choose a new one."),
                              validators=[Optional(), Length(min=us.PASSWORD_MIN, max=us.PASSWORD_MAX,
                                                             message=_l("The password must have at least 12 "
                                                                        "characters."))])
    confirm = BooleanField(_l("Yes, I understand what this does"),
                           validators=[DataRequired(_l("Tick the box to confirm."))])


def _choices(form: UserEditForm) -> None:
    lang = current_lang()
    form.agency.choices = [("", "—"), *agency_choices(lang)]
    form.unit.choices = [("", "—"), *unit_choices(lang)]


def _scope(form: UserEditForm) -> tuple[Agency | None, Unit | None]:
    agency = db.session.get(Agency, int(form.agency.data)) if (form.agency.data or "").isdigit() else None
    unit = db.session.get(Unit, int(form.unit.data)) if (form.unit.data or "").isdigit() else None
    return agency, unit


def _page(form: FlaskForm, title: str, submit: str, crumb: str) -> tuple[str, int]:
    crumbs = [(url_for("admin.users"), _("Users")), (None, crumb)]
    return render_template("admin/form.html", form=form, title=title, submit=submit, back=url_for("admin.users"),
                           breadcrumbs=crumbs), 400 if request.method == "POST" else 200


@bp.route("/users")
@admin_required
def users() -> str:
    rows = db.session.scalars(select(User).order_by(User.active.desc(), User.username)).all()
    return render_template("admin/users.html", users=rows, role_labels=ROLE_LABELS, lang=current_lang())


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def user_new() -> ResponseReturnValue:
    form = UserCreateForm()
    _choices(form)
    if form.validate_on_submit():
        agency, unit = _scope(form)
        try:
            user = us.create_user(db.session, username=form.username.data, display_name=form.display_name.data,
                                  password=form.password.data, role=form.role.data, agency=agency, unit=unit,
                                  must_change_password=form.must_change_password.data)
        except us.UserError as exc:
            refuse(form, exc)
        else:
            db.session.commit()
            flash(_("User %(name)s created.", name=user.username), "success")
            return redirect(url_for("admin.users"))
    return _page(form, _("New user"), _("Create user"), _("New user"))


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@admin_required
def user_edit(user_id: int) -> ResponseReturnValue:
    user = get_or_404(db.session, User, user_id)
    form = UserEditForm(obj=user if request.method == "GET" else None)
    _choices(form)
    if request.method == "GET":
        form.agency.data = str(user.agency_id or "")
        form.unit.data = str(user.unit_id or "")
    if user.id == current_user.id:
        form.role.description = _("You cannot change your own role.")
    if form.validate_on_submit():
        agency, unit = _scope(form)
        try:
            changed = us.update_user(db.session, current_user, user, role=form.role.data,
                                     display_name=form.display_name.data, agency=agency, unit=unit)
        except us.UserError as exc:
            refuse(form, exc)
        else:
            db.session.commit()
            flash(_("User %(name)s saved.", name=user.username) if changed else _("Nothing was changed."), "success")
            return redirect(url_for("admin.users"))
    return _page(form, _("Role and scope of %(name)s", name=user.username), _("Save"), user.username)


@bp.route("/users/<int:user_id>/deactivate", methods=["GET", "POST"])
@admin_required
def user_deactivate(user_id: int) -> ResponseReturnValue:
    user = get_or_404(db.session, User, user_id)
    if user.id == current_user.id:
        flash(us.UserError("deactivate_self").message, "error")
        return redirect(url_for("admin.users"))
    form = ConfirmForm()
    if form.validate_on_submit():
        us.set_active(db.session, current_user, user, False)
        db.session.commit()
        flash(_("User %(name)s deactivated.", name=user.username), "success")
        return redirect(url_for("admin.users"))
    return render_template(
        "admin/confirm.html", form=form, title=_("Deactivate %(name)s", name=user.username),
        explanation=_("%(name)s can no longer log in; a session already open ends at the next page. The account "
                      "and its history are kept and can be reactivated.", name=user.username),
        details=[], submit=_("Deactivate"), back=url_for("admin.users"),
        breadcrumbs=[(url_for("admin.users"), _("Users")), (None, user.username)]), \
        400 if request.method == "POST" else 200


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@admin_required
def user_reactivate(user_id: int) -> ResponseReturnValue:
    user = get_or_404(db.session, User, user_id)
    if us.set_active(db.session, current_user, user, True):
        db.session.commit()
        flash(_("User %(name)s reactivated.", name=user.username), "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/reset-password", methods=["GET", "POST"])
@admin_required
def user_reset(user_id: int) -> ResponseReturnValue:
    user = get_or_404(db.session, User, user_id)
    form = ResetForm()
    if form.validate_on_submit():
        try:
            us.force_password_reset(db.session, user, form.temporary.data or None)
        except us.UserError as exc:
            refuse(form, exc, fallback="temporary")
        else:
            db.session.commit()
            flash(_("%(name)s must choose a new password at the next login.", name=user.username), "success")
            return redirect(url_for("admin.users"))
    return render_template(
        "admin/confirm.html", form=form, title=_("Force a password change for %(name)s", name=user.username),
        explanation=_("At the next login %(name)s must choose a new password before seeing any page.",
                      name=user.username),
        details=[], submit=_("Force a password change"), back=url_for("admin.users"),
        breadcrumbs=[(url_for("admin.users"), _("Users")), (None, user.username)]), \
        400 if request.method == "POST" else 200
