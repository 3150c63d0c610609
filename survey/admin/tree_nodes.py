"""Loading a unit, agency or service point for a tree page, in one place (flaskr's `get_post(id)`).

Every tree page did the same before its real work: load or 404, check the node's life cycle (a retired
node cannot be edited, retired again or merged; an open one cannot be reactivated), and if not, say so on
the tree page.  `tree_node` does that for the three kinds, which share one life-cycle field (`retired_at`);
who may call the page is the route's `admin_required`.  A refusal aborts the view with the redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NoReturn, TypeVar

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from werkzeug.wrappers import Response

from survey.admin.blueprint import get_or_404
from survey.errors import N_, refuse
from survey.extensions import db
from survey.org.models import Agency, ServicePoint, Unit
from survey.org.service import OrgError

Node = TypeVar("Node", Unit, Agency, ServicePoint)

_ALREADY_RETIRED = {
    Unit: N_("Unit %(code)s is already retired."),
    Agency: N_("Agency %(code)s is already retired."),
    ServicePoint: N_("Service point %(code)s is already retired."),
}
_ALREADY_ACTIVE = {
    Unit: N_("Unit %(code)s is already active."),
    Agency: N_("Agency %(code)s is already active."),
    ServicePoint: N_("Service point %(code)s is already active."),
}


def back_to_tree(msgid: str, **params: object) -> NoReturn:
    """Flash a refusal (an N_-marked msgid) and end the view with a redirect to the tree page."""
    flash(gettext(msgid, **params), "error")
    abort(redirect(url_for("admin.tree")))


def tree_node(model: type[Node], node_id: int, *, state: Literal["open", "retired"] | None = None) -> Node:
    """The node, or 404; with `state`, a node in the other state is refused on the tree page."""
    node = get_or_404(db.session(), model, node_id)
    if state == "open" and node.retired_at is not None:
        back_to_tree(_ALREADY_RETIRED[model], code=node.code)
    if state == "retired" and node.retired_at is None:
        back_to_tree(_ALREADY_ACTIVE[model], code=node.code)
    return node


def org_error(form: Any, exc: OrgError) -> None:
    """A rule only the service knows, on the field it concerns, the change rolled back (survey/errors.py
    `refuse`); the service's precise reason follows a lead-in saying what kind of rule it was."""
    if exc.field in ("parent", "level"):
        wrap = N_("This place in the tree is not allowed: %(detail)s")
    elif exc.field == "target":
        wrap = N_("These cannot be merged: %(detail)s")
    else:
        wrap = N_("The change was refused: %(detail)s")
    refuse(form, exc, wrap=wrap, fallback="parent")


def form_status(form: Any) -> int:
    """A form shown again after a POST was refused: 400, so clients and tests see the refusal."""
    return 400 if request.method == "POST" else 200


def tree_done(message: str) -> Response:
    """Commit the tree change, say so, and go back to the tree (the pattern of every tree page)."""
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("admin.tree"))


def confirm_page(form: Any, title: str, explanation: str, details: list[str], submit: str,
                 code: str) -> tuple[str, int]:
    """The confirmation page of a tree change, 400 when a POST was not confirmed."""
    return render_template(
        "admin/confirm.html", form=form, title=title, explanation=explanation, details=details, submit=submit,
        back=url_for("admin.tree"), breadcrumbs=[(url_for("admin.tree"), gettext("Tree")), (None, code)]
    ), form_status(form)


def life_cycle_page(form: Any, node: Unit | Agency | ServicePoint, change: Callable[[], object], done: str, *,
                    title: str, explanation: str, submit: str, details: list[str] | None = None) -> ResponseReturnValue:
    """Retire or reactivate, after `tree_node` loaded and checked the node: confirmed → the service call,
    commit, say so, back to the tree; otherwise the confirmation page."""
    if form.validate_on_submit():
        change()
        return tree_done(done)
    return confirm_page(form, title, explanation, details or [], submit, node.code)


def merge_page(form: Any, node: Node, target_id: Callable[[], int | None], merge: Callable[[Node], object],
               done: Callable[[Node], str], *, title: str, explanation: str,
               details: list[str] | None = None) -> ResponseReturnValue:
    """Merge a node `tree_node` loaded and checked into the one chosen on `form` (`target_id`: its id, or
    None after putting the reason on the form), loaded the same way: confirmed → the service call, commit,
    say so, back to the tree; a refusal stays on the form (`org_error`); otherwise the confirmation page."""
    if form.validate_on_submit() and (chosen := target_id()) is not None:
        target = tree_node(type(node), chosen)
        try:
            merge(target)
        except OrgError as exc:
            org_error(form, exc)
        else:
            return tree_done(done(target))
    return confirm_page(form, title, explanation, details or [], gettext("Merge"), node.code)
