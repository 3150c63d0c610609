"""The agency page's "responses by language" table (issue 15): how many of the selection's responses were
given in Vietnamese, English and Khmer, so an agency sees whether its Khmer-speaking citizens use the kiosk
and the phone form.  Counted from the responses themselves (the count tables have no language), with the
same filters as the page and only counted responses (held, excluded and late ones are not)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.dashboard.tables import INT, PCT, Col, Table
from survey.i18n import CITIZEN_LANGUAGES
from survey.respond.models import Response
from survey.results.selection import Selection, tally_filters

LANGUAGE_LABELS = {"vi": _l("Vietnamese"), "en": _l("English"), "km": _l("Khmer")}


def responses_by_language(session: Session, sel: Selection) -> dict[str, int]:
    """{language: counted responses in the selection}, every citizen language present (0 when none)."""
    rows = session.execute(
        select(Response.language, func.count()).where(*tally_filters(session, Response.__table__, sel),
                                                      Response.review_status.is_(None))
        .group_by(Response.language)).all()
    counts = dict.fromkeys(CITIZEN_LANGUAGES, 0)
    for language, n in rows:
        counts[language] = counts.get(language, 0) + int(n)
    return counts


def language_table(session: Session, sel: Selection, n_min: int | None = None) -> Table:
    """Rows: each language (Vietnamese, English, Khmer, then any other code as stored) with count and share.
    Over fewer than n_min responses a share is a suppressed figure like any other: the counts stay."""
    if n_min is None:
        from flask import current_app

        n_min = int(current_app.config["HAILONG_N_MIN"])
    counts = responses_by_language(session, sel)
    total = sum(counts.values())
    table = Table("languages", _("Responses by language"), [
        Col("language", _("Language")), Col("n", _("Responses"), INT), Col("share", _("Share of responses"), PCT)])
    for code, n in counts.items():
        label = LANGUAGE_LABELS.get(code)
        table.rows.append({"language": str(label) if label is not None else code, "n": n,
                           "share": n / total if total else None, "_suppressed": total < n_min, "_n": total})
    return table
