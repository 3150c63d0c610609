"""Helpers for the QR/link channel tests: read a form page like a phone would and post answers back."""

from __future__ import annotations

import re
from typing import Any

from flask import g
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from questionnaires.model import Questionnaire
from survey.respond.models import Answer, Comment, Response, ResponseTally

COMMENT_TEXT = "Cán bộ <b>nhiệt tình</b> & chu đáo"


class FreshClient(FlaskClient):
    """A test client whose every request starts with a clean `g`, as each real request does.

    The shared `app` fixture keeps an application context open for the whole test, and Flask reuses it for
    requests, so `g` would carry the cached locale, CSRF token or logged-in user from one request (or one
    phone) to the next.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        for name in ("_flask_babel", "csrf_token", "_login_user"):
            g.pop(name, None)
        return super().open(*args, **kwargs)


def fresh_clients(app: Any) -> FlaskClient:
    """Make `app.test_client()` hand out FreshClients; returns one."""
    app.test_client_class = FreshClient
    return app.test_client()


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert found, f"no hidden field {name} in the page"
    return found.group(1)


def form_page(client: FlaskClient, url: str) -> tuple[str, dict[str, str]]:
    """GET a form page; returns its HTML and the hidden fields a browser would send back."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    return html, {"csrf_token": hidden(html, "csrf_token"), "client_id": hidden(html, "client_id")}


def answer_everything(q: Questionnaire, seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """Form data answering every item (levels vary with the item's position), and the answers expected stored."""
    data: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for i, item in enumerate(q.items()):
        k = i + seed
        if item.type == "text":
            data[item.code] = COMMENT_TEXT
            expected[item.code] = COMMENT_TEXT
        elif item.type == "choice" and item.multiple:
            n = min(item.max_choices or len(item.options), 2)
            chosen = [item.options[(k + j) % len(item.options)].value for j in range(n)]
            data[item.code] = [str(v) for v in chosen]
            expected[item.code] = sorted(chosen)
        else:
            values = list(item.values) + ([0] if item.offers_no_opinion else [])
            value = values[k % len(values)]
            data[item.code] = str(value)
            expected[item.code] = value
    return data, expected


def stored(session: Session, response: Response, q: Questionnaire, item_ids: dict[str, int]) -> dict[str, Any]:
    """The answers of a stored response, in the shape of `answer_everything`'s expectation."""
    by_id = {v: k for k, v in item_ids.items()}
    out: dict[str, Any] = {}
    for a in session.scalars(select(Answer).where(Answer.response_id == response.id)):
        code = by_id[a.item_id]
        if q.item(code).type == "choice" and q.item(code).multiple:
            out.setdefault(code, []).append(a.value)
        else:
            out[code] = a.value
    for code in out:
        if isinstance(out[code], list):
            out[code].sort()
    comment = session.scalar(select(Comment).where(Comment.response_id == response.id))
    if comment is not None:
        out[comment.item_code] = comment.text
    return out


def response_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Response)) or 0


def counted(session: Session) -> int:
    """Responses in the count tables (what figures see)."""
    session.expire_all()
    return int(session.scalar(select(func.coalesce(func.sum(ResponseTally.count), 0))) or 0)


def stored_with(session: Session, status: Any = ...) -> int:
    """Stored responses; with `status`, only those counted (None) or of that review status ("held", …)."""
    session.expire_all()
    q = select(func.count()).select_from(Response)
    if status is not ...:
        q = q.where(Response.review_status.is_(None) if status is None else Response.review_status == status)
    return int(session.scalar(q) or 0)
