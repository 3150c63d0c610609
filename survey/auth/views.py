"""Log in and out.  Failed attempts are throttled per account (locked for a while), never per IP."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from survey.auth.models import User
from survey.auth.passwords import verify_password
from survey.database import utcnow
from survey.extensions import db, limiter

bp = Blueprint("auth", __name__, url_prefix="/auth")

MAX_FAILURES = 5
LOCK_MINUTES = 15


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("web.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"], key_func=lambda: "login:" + request.form.get("username", ""))
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data.strip()))
        now = utcnow()
        if user is not None and user.locked_until is not None and user.locked_until > now:
            flash(_("Too many failed attempts. Try again in a few minutes."), "error")
        elif user is None or not user.active or not verify_password(user.password_hash, form.password.data):
            if user is not None:
                user.failed_logins += 1
                if user.failed_logins >= MAX_FAILURES:
                    user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
                    user.failed_logins = 0
                db.session.commit()
            flash(_("Wrong username or password."), "error")
        else:
            user.failed_logins = 0
            user.locked_until = None
            user.last_login_at = now
            db.session.commit()
            session.clear()
            session.permanent = True
            login_user(user)
            if user.must_change_password:
                return redirect(url_for("auth.change_password", next=_safe_next(request.args.get("next"))))
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("web.home"))


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("New password (at least 12 characters)"),
                        validators=[DataRequired(), Length(min=12, max=200, message=_l(
                            "The password must have at least 12 characters."))])
    repeat = PasswordField(_l("Repeat the new password"), validators=[EqualTo("new", _l("The two passwords differ."))])


# Pages a user who must change the password may still reach (everything else redirects to the form).
_OPEN_WHILE_FORCED = {"auth.change_password", "auth.logout", "static", "web.set_language"}


@bp.before_app_request
def _force_password_change() -> Response | None:
    if current_user.is_authenticated and current_user.must_change_password \
            and request.endpoint not in _OPEN_WHILE_FORCED:
        return redirect(url_for("auth.change_password", next=request.full_path if request.method == "GET" else None))
    return None


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password() -> str | Response:
    """Choose a new password; required before anything else when an administrator forced a change."""
    from survey.auth.user_service import UserError, change_own_password

    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            change_own_password(db.session, current_user, form.current.data, form.new.data)
        except UserError as exc:
            db.session.rollback()
            getattr(form, exc.field or "new").errors = [exc.message]
        else:
            db.session.commit()
            flash(_("Your password was changed."), "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/password.html", form=form, forced=current_user.must_change_password)
