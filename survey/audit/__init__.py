"""Writing the audit log.  Every administrative action, from the web or the CLI, calls `record`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from survey.audit.models import AuditEvent
from survey.database import utcnow


def _actor() -> tuple[int | None, str]:
    try:
        from flask import has_request_context
        from flask_login import current_user

        if has_request_context() and current_user.is_authenticated:
            return current_user.id, current_user.username
    except RuntimeError:
        pass
    return None, "cli"


def record(session: Session, action: str, target_type: str, target_id: object = None, *,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> AuditEvent:
    """Add an audit event to the caller's transaction (committed or rolled back with the action itself)."""
    user_id, actor = _actor()
    event = AuditEvent(at=utcnow(), user_id=user_id, actor=actor, action=action, target_type=target_type,
                       target_id=None if target_id is None else str(target_id), before=before, after=after)
    session.add(event)
    return event
