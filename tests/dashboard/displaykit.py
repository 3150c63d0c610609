"""Small data builders for the dashboard display tests: responses at chosen service points and months,
stored through store_response (the count tables are maintained as in production)."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.store import Submission, store_response


def add_responses(session: Session, qv_id: int, sp_id: int, count: int, when: datetime, *, good: float = 0.6,
                  seed: int = 1) -> None:
    """`count` paper responses (paper may be back-dated) at one service point around `when`; each scale
    item satisfied with probability `good`."""
    q, _ids = questionnaire_for(session, qv_id)
    rng = random.Random(f"{seed}-{sp_id}-{when.isoformat()}")
    for i in range(count):
        answers = {}
        for item in q.items():
            if item.type != "scale":
                continue
            top = [v for v in item.values if v in item.scale.satisfied]
            bad = [v for v in item.values if v not in item.scale.satisfied]
            answers[item.code] = rng.choice(top if rng.random() < good or not bad else bad)
        store_response(session, Submission(service_point_id=sp_id, questionnaire_version_id=qv_id, answers=answers,
                                           channel="paper", client_id=str(uuid.UUID(int=rng.getrandbits(128))),
                                           submitted_at=when - timedelta(minutes=i)), commit=False)
    session.commit()
