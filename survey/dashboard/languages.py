"""The agency page's "responses by language" table (issue 15): how many of the selection's responses were
given in Vietnamese, English and Khmer, so an agency sees whether its Khmer-speaking citizens use the kiosk
and the phone form.  Counted from the responses themselves (the count tables have no language), with the
same filters as the page and only counted responses (held, excluded and late ones are not).  Home Affairs
gets the same counts per compared unit (`units_language_table`), over the period compared.

A language's share is shown whatever the number of responses (attacker pass, 8 Dec 2026): it is count / total,
both printed in its row, so hiding it under n_min (as until then) protected nothing.  These are counts of
responses, which every page prints beside every figure, hidden or not; no satisfaction figure exists by language
(the count tables have no language; `tests/dashboard/test_disclosure_languages.py` checks every other table is
unchanged when a small group's responses change language)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.dashboard import homeaffairs_present as hp
from survey.dashboard.tables import INT, PCT, Col, Table
from survey.i18n import CITIZEN_LANGUAGES
from survey.respond.models import Response
from survey.results.coverage import _group_key as group_key  # the comparison's unit keys, as coverage keys them
from survey.results.selection import Selection, tally_filters
from survey.results.tree import placements

LANGUAGE_LABELS = {"vi": _l("Vietnamese"), "en": _l("English"), "km": _l("Khmer")}


def responses_by_language(session: Session, sel: Selection) -> dict[str, int]:
    """{language: counted responses in the selection}, every citizen language present (0 when none)."""
    return responses_by_language_by(session, sel, None).get("", dict.fromkeys(CITIZEN_LANGUAGES, 0))


def responses_by_language_by(session: Session, sel: Selection, group: str | None) -> dict[str, dict[str, int]]:
    """{group key: {language: counted responses}}: keys are agency codes, service point codes or unit codes
    at the tree level `group` (as in the Home Affairs comparison); `group=None`: one key "" for all."""
    rows = session.execute(
        select(Response.service_point_id, Response.language, func.count())
        .where(*tally_filters(session, Response.__table__, sel), Response.review_status.is_(None))
        .group_by(Response.service_point_id, Response.language)).all()
    places = placements(session) if group is not None else {}
    out: dict[str, dict[str, int]] = {}
    for sp, language, n in rows:
        if group is not None and sp not in places:
            continue
        key = group_key(places.get(sp), group)
        counts = out.setdefault(key, dict.fromkeys(CITIZEN_LANGUAGES, 0))
        counts[language] = counts.get(language, 0) + int(n)
    return out


def units_language_table(by_key: dict[str, dict[str, int]], labels: dict[str, str], group_label: str) -> hp.Table:
    """Home Affairs: one row per compared unit (label order) with its responses in each citizen language and
    their shares (empty only for a unit without responses)."""
    cols = [hp.Column("unit", group_label, hp.TEXT), hp.Column("responses", _("Responses counted"), hp.INT)]
    for code in CITIZEN_LANGUAGES:
        name = str(LANGUAGE_LABELS[code])
        cols += [hp.Column(f"{code}_n", name, hp.INT),
                 hp.Column(f"{code}_share", _("%(language)s, share", language=name), hp.PCT)]
    rows = []
    for key, label in labels.items():
        counts = by_key.get(key, dict.fromkeys(CITIZEN_LANGUAGES, 0))
        total = sum(counts.values())
        cells: list[Any] = [label, total]
        for code in CITIZEN_LANGUAGES:
            cells += [counts.get(code, 0), counts.get(code, 0) / total if total else None]
        rows.append(tuple(cells))
    rows.sort(key=lambda r: str(r[0]))
    return hp.Table("languages", _("Responses by language"), tuple(cols), tuple(rows))


def language_table(session: Session, sel: Selection) -> Table:
    """Rows: each language (Vietnamese, English, Khmer, then any other code as stored) with count and share
    (shown however few the responses: see the module's docstring)."""
    counts = responses_by_language(session, sel)
    total = sum(counts.values())
    table = Table("languages", _("Responses by language"), [
        Col("language", _("Language")), Col("n", _("Responses"), INT), Col("share", _("Share of responses"), PCT)])
    for code, n in counts.items():
        label = LANGUAGE_LABELS.get(code)
        table.rows.append({"language": str(label) if label is not None else code, "n": n,
                           "share": n / total if total else None})
    return table
