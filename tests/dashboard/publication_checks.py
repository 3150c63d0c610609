"""Checks shared by the publication and review tests: the count tables every figure is read from hold exactly
the counted responses (review status NULL) — late, held and excluded ones in no cell."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.respond.models import Answer, AnswerTally, MomentTally, Response, ResponseTally

CELL = (Response.questionnaire_version_id, Response.service_point_id, Response.period, Response.channel)


def tallies_equal_recount(session: Session) -> None:
    """response_tally, answer_tally and moment_tally's respondents equal a count of the answer rows of counted
    responses, cell by cell (computed here in SQL, independently of survey.respond.store.rebuild_tallies)."""
    counted = Response.review_status.is_(None)
    responses = {tuple(r[:4]): r[4] for r in session.execute(select(*CELL, func.count()).where(counted)
                                                              .group_by(*CELL))}
    rt = {tuple(r[:4]): r[4] for r in session.execute(select(
        ResponseTally.questionnaire_version_id, ResponseTally.service_point_id, ResponseTally.period,
        ResponseTally.channel, ResponseTally.count))}
    assert rt == responses
    mt = {tuple(r[:4]): r[4] for r in session.execute(select(
        MomentTally.questionnaire_version_id, MomentTally.service_point_id, MomentTally.period,
        MomentTally.channel, MomentTally.respondents))}
    assert mt == responses
    answers = {tuple(r[:6]): r[6] for r in session.execute(
        select(*CELL, Answer.item_id, Answer.value, func.count()).join(Answer, Answer.response_id == Response.id)
        .where(counted).group_by(*CELL, Answer.item_id, Answer.value))}
    at = {tuple(r[:6]): r[6] for r in session.execute(select(
        AnswerTally.questionnaire_version_id, AnswerTally.service_point_id, AnswerTally.period,
        AnswerTally.channel, AnswerTally.item_id, AnswerTally.value, AnswerTally.count))}
    assert at == answers
