"""Test helpers for kiosks: an enrolled kiosk with its credential, and valid answers for any questionnaire."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from questionnaires.model import Questionnaire
from survey.database import utcnow
from survey.org import kiosk_service


def enrolled_kiosk(session: Session, service_point_code: str = "STP-SP1") -> tuple[Any, str]:
    """(kiosk, clear credential) of a freshly registered and enrolled kiosk."""
    enrolment = kiosk_service.register_kiosk(session, service_point_code, "Test tablet")
    kiosk, credential = kiosk_service.redeem_code(session, enrolment.code)
    session.commit()
    return kiosk, credential


def valid_answers(q: Questionnaire, items: Any = None) -> dict[str, Any]:
    """A complete valid answer set: best level, first option(s), a comment that needs escaping."""
    answers: dict[str, Any] = {}
    for item in items if items is not None else q.items():
        if item.type == "text":
            answers[item.code] = "Cán bộ nhiệt tình <b>cảm ơn</b>"
        elif item.type == "choice" and item.multiple:
            answers[item.code] = [o.value for o in item.options[: min(2, item.max_choices or 2)]]
        else:
            answers[item.code] = max(item.values)
    return answers


def payload(instrument: str, version: int, answers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A kiosk's submission made now by the app's clock (`utcnow`: a test that fixes the clock gets its moment)."""
    body = {"client_id": str(uuid.uuid4()), "questionnaire": instrument, "version": version,
            "submitted_at": utcnow().isoformat(), "language": "vi", "answers": answers}
    body.update(extra)
    return body


def auth(credential: str) -> dict[str, str]:
    return {"Authorization": f"Kiosk {credential}"}
