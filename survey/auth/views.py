"""Log in and out.  Failed attempts are throttled (survey/auth/throttle.py), accounts are never locked;
unknown user names get the same answer at the same cost as wrong passwords."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from survey.auth import throttle
from survey.auth.landing import landing_url
from survey.auth.models import User
from survey.auth.passwords import dummy_verify, verify_password
from survey.client_hash import client_key
from survey.database import utcnow
from survey.extensions import db, limiter
from survey.forms import FlaskForm
from survey.redirects import safe_redirect_target

bp = Blueprint("auth", __name__, url_prefix="/auth")


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


def _next_or(fallback: str) -> str:
    return safe_redirect_target(request.args.get("next"), fallback)


def _start_session(user: User) -> None:
    """A fresh session (no fixation) holding the user's current session version."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session.permanent = True
    login_user(user)


def _check_credentials(username: str, password: str) -> User | None:
    """The user when the password is right and the account active.  Every path verifies one hash of
    the same cost, so timing does not tell whether a user name exists."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        dummy_verify(password)
        return None
    ok = verify_password(user.password_hash, password)
    return user if ok and user.active else None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("120 per minute", methods=["POST"], key_func=lambda: client_key("login-post"))
def login() -> str | Response | tuple[str, int]:
    form = LoginForm()
    if form.validate_on_submit():
        username = form.username.data.strip()
        buckets = throttle.buckets_for(username)
        wait = throttle.wait_seconds(buckets)
        if wait:
            minutes = max(1, -(-wait // 60))
            flash(ngettext("Too many failed attempts. Try again in %(num)d minute.",
                           "Too many failed attempts. Try again in %(num)d minutes.", minutes), "error")
            return render_template("auth/login.html", form=form), 429
        user = _check_credentials(username, form.password.data)
        if user is None:
            throttle.record_failure(buckets)
            db.session.rollback()
            flash(_("Wrong username or password."), "error")
        else:
            throttle.record_success(buckets)
            user.last_login_at = utcnow()
            db.session.commit()
            _start_session(user)
            if user.must_change_password:
                resp = redirect(url_for("auth.change_password", next=_next_or(landing_url(user))))
            else:
                resp = redirect(_next_or(landing_url(user)))
            throttle.remember_browser(resp, user.username, bool(current_app.config.get("SESSION_COOKIE_SECURE")))
            return resp
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Ends every session of the user, on every browser (a copied cookie stops working too)."""
    if current_user.is_authenticated:
        user = db.session.get(User, current_user.id)
        if user is not None:
            user.end_all_sessions()
            db.session.commit()
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
    from survey.errors import refuse

    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            change_own_password(db.session, current_user, form.current.data, form.new.data)
        except UserError as exc:
            refuse(form, exc, fallback="new")
        else:
            db.session.commit()
            _start_session(current_user._get_current_object())  # other sessions ended; this one goes on
            flash(_("Your password was changed."), "success")
            return redirect(_next_or(landing_url(current_user)))
    return render_template("auth/password.html", form=form, forced=current_user.must_change_password)
