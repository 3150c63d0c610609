"""Answer distributions per item and expectations (multiple-choice option counts), from the count tables.

Plain counts (unweighted): they describe who answered, not the population; the indices carry the weights
and intervals.  Shares: a level's count over all answers to the item including "no opinion"; an option's
count over the responses in the selection (a respondent may tick several options).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.respond.models import NO_OPINION, ResponseTally
from survey.results.cache import cached
from survey.results.indices import answer_counts
from survey.results.selection import Selection, tally_filters
from survey.results.totals import instrument

RT = ResponseTally.__table__
DIST_COLUMNS = ("item", "item_text", "value", "label", "count", "share", "satisfied")
EXP_COLUMNS = ("item", "item_text", "value", "label", "count", "share")


def response_count(session: Session, sel: Selection) -> int:
    """Responses in the selection (response_tally, any item)."""
    return cached(session, ("responses", sel.key()), lambda: int(session.scalar(
        select(func.coalesce(func.sum(RT.c.count), 0)).where(*tally_filters(session, RT, sel))) or 0))


@dataclass(frozen=True)
class Distributions:
    responses: int
    levels: pd.DataFrame  # DIST_COLUMNS, scale items in questionnaire order, levels worst → best, then no opinion
    expectations: pd.DataFrame  # EXP_COLUMNS, multiple-choice items, options in questionnaire order


def distributions(session: Session, sel: Selection, lang: str = "vi") -> Distributions:
    return cached(session, ("distributions", sel.key(), lang), lambda: _distributions(session, sel, lang))


def _distributions(session: Session, sel: Selection, lang: str) -> Distributions:
    inst = instrument(session, sel)
    q = inst.questionnaire
    counts = answer_counts(session, sel)
    lookup = {(r["item"], int(r["value"])): int(r["count"]) for r in counts.to_dict("records")}
    responses = response_count(session, sel)
    levels: list[dict[str, Any]] = []
    expectations: list[dict[str, Any]] = []
    for it in q.items():
        text = it.text.get(lang)
        if it.type == "scale" and it.scale is not None:
            rows = [(lv.value, lv.label.get(lang), lv.value in it.scale.satisfied) for lv in it.scale.levels]
            if it.scale.no_opinion is not None:
                rows.append((NO_OPINION, it.scale.no_opinion.get(lang), False))
            total = sum(lookup.get((it.code, v), 0) for v, _, _ in rows)
            for v, label, sat in rows:
                c = lookup.get((it.code, v), 0)
                levels.append({"item": it.code, "item_text": text, "value": v, "label": label, "count": c,
                               "share": c / total if total else float("nan"), "satisfied": sat})
        elif it.type == "choice":
            for opt in it.options:
                c = lookup.get((it.code, opt.value), 0)
                expectations.append({"item": it.code, "item_text": text, "value": opt.value,
                                     "label": opt.label.get(lang), "count": c,
                                     "share": c / responses if responses else float("nan")})
    return Distributions(responses, pd.DataFrame(levels, columns=list(DIST_COLUMNS)),
                         pd.DataFrame(expectations, columns=list(EXP_COLUMNS)))
