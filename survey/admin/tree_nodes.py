"""Loading a unit, agency or service point for a tree page, in one place (flaskr's `get_post(id)`).

Every tree page did the same before its real work: load or 404, check the node's life cycle (a retired
node cannot be edited, retired again or merged; an open one cannot be reactivated), and if not, say so on
the tree page.  `tree_node` does that for the three kinds, which share one life-cycle field (`retired_at`);
who may call the page is the route's `admin_required`.  A refusal aborts the view with the redirect.
"""

from __future__ import annotations

from typing import Literal, NoReturn, TypeVar

from flask import abort, flash, redirect, url_for
from flask_babel import gettext

from survey.admin.blueprint import get_or_404
from survey.errors import N_
from survey.extensions import db
from survey.org.models import Agency, ServicePoint, Unit

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
