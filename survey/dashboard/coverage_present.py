"""Response rate and "excluded after review" beside figures: sentences and tables for every figures page.

The agency page, the Home Affairs comparison, their exports and the period report use these, so the same
wording and the same numbers appear everywhere (issue 16 §3).  Only counts are shown: who flagged a
response, and why, stays on the Home Affairs Integrity page.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from survey.dashboard import homeaffairs_present as hp
from survey.dashboard.tables import INT, PCT, TEXT, Col, Table
from survey.i18n import local_datetime, number, percent
from survey.results.coverage import Coverage
from survey.results.periods import period_name


def notes(cov: Coverage | None) -> list[str]:
    """Plain sentences for the page (nothing when there is nothing to say)."""
    if cov is None:
        return []
    out: list[str] = []
    if cov.rate is not None:
        out.append(_("Response rate %(rate)s: %(n)s responses from %(served)s citizens served (service volumes "
                     "entered).", rate=percent(cov.rate, 1), n=number(cov.responses_with_volume, 0),
                     served=number(cov.served, 0)))
    if cov.over or cov.cells_over:  # one point-month over is a flag even when the whole rate is below 100%
        out.append(_("More responses than citizens served (in %(cells)s service point-months): the figures may "
                     "include responses that were not given by citizens served.", cells=number(cov.cells_over, 0)))
    if cov.excluded:
        out.append(_("%(n)s responses excluded after review.", n=number(cov.excluded, 0)))
    if cov.held:
        out.append(_("%(n)s responses set aside, awaiting review.", n=number(cov.held, 0)))
    if cov.late:
        out.append(_("%(n)s responses received after publication are kept but not in these figures; they enter "
                     "them when Home Affairs issues a revision.", n=number(cov.late, 0)))
    return out


def published_note(published: Any) -> str:
    """On figures of a published period: they are as published, up to the stated data cut-off."""
    return _("%(period)s was published (revision %(n)s): its figures are as published, from responses "
             "received up to %(cutoff)s.", period=period_name(published.label), n=published.revision,
             cutoff=_cutoff_time(published))


def _cutoff_time(published: Any) -> str:
    return local_datetime(published.cutoff_received_at) if published.cutoff_received_at else "—"


def cutoff_text(publications: list[Any]) -> str:
    """The data cut-off of the published periods among a table's figures, for its export column."""
    return "; ".join(_("%(period)s: revision %(n)s, responses received up to %(cutoff)s",
                       period=period_name(p.label), n=p.revision, cutoff=_cutoff_time(p)) for p in publications)


def _note(cov: Coverage) -> str:
    if cov.over:
        return _("above 100%: more responses than citizens served")
    if cov.cells_over:
        return _("more responses than citizens served in %(cells)s service point-months", cells=cov.cells_over)
    if cov.served is None:
        return _("no service volume entered")
    return ""


def _late_label() -> str:
    return _("Received after publication (not counted)")


def coverage_table(cov: Coverage, label: str, cutoff: str = "") -> Table:
    """The agency page's one-row table (also a CSV/XLSX table like every other on the page); `cutoff`: the
    data cut-off of published periods among the figures (`cutoff_text`)."""
    table = Table("coverage", _("Response rate and reviewed responses"), [
        Col("scope", _("Selection")), Col("responses", _("Responses counted"), INT),
        Col("served", _("Citizens served"), INT), Col("rate", _("Response rate"), PCT),
        Col("excluded", _("Excluded after review"), INT), Col("held", _("Awaiting review"), INT),
        Col("late", _late_label(), INT), Col("cutoff", _("Published: data cut-off"), TEXT),
        Col("note", _("Warning"), TEXT)])
    table.rows.append({"scope": label, "responses": cov.responses, "served": cov.served, "rate": cov.rate,
                       "excluded": cov.excluded, "held": cov.held, "late": cov.late, "cutoff": cutoff,
                       "note": _note(cov), "_kind": PCT})
    return table


def units_coverage_table(by_key: dict[str, Coverage], labels: dict[str, str], group_label: str,
                         cutoff: str = "") -> hp.Table:
    """One row per compared unit (Home Affairs comparison and report), in label order."""
    cols = (hp.Column("unit", group_label, hp.TEXT), hp.Column("responses", _("Responses counted"), hp.INT),
            hp.Column("served", _("Citizens served"), hp.INT), hp.Column("rate", _("Response rate"), hp.PCT),
            hp.Column("excluded", _("Excluded after review"), hp.INT),
            hp.Column("held", _("Awaiting review"), hp.INT), hp.Column("late", _late_label(), hp.INT),
            hp.Column("cutoff", _("Published: data cut-off"), hp.TEXT), hp.Column("note", _("Warning"), hp.TEXT))
    rows = []
    for key, cov in by_key.items():
        if key not in labels:
            continue
        rows.append((labels[key], cov.responses, cov.served, cov.rate, cov.excluded, cov.held, cov.late, cutoff,
                     _note(cov)))
    rows.sort(key=lambda r: str(r[0]))
    return hp.Table("coverage", _("Response rate and reviewed responses"), cols, tuple(rows))


def comparison_labels(comp: Any) -> dict[str, str]:
    """Group key → label of the units a comparison shows."""
    return {r.code: r.label for r in comp.rows}
