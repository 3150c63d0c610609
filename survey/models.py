"""Import every model module so that the metadata (and Alembic) sees all tables."""

from survey.audit.models import AuditEvent
from survey.auth.models import User
from survey.org.models import Agency, Kiosk, Level, ServicePoint, ServiceVolume, Unit
from survey.org.tree_revision import TreeRevision
from survey.questionnaire_versions.models import Item, QuestionnaireVersion
from survey.respond.models import (
    Answer,
    AnswerTally,
    Comment,
    Invitation,
    InvitationBatch,
    Response,
    ResponseTally,
)
from survey.results.carried import CarriedHidden
from survey.results.integrity_models import IntegrityFlag
from survey.results.publication import PublishedPeriod

__all__ = [
    "Agency", "Answer", "AnswerTally", "AuditEvent", "CarriedHidden", "Comment", "IntegrityFlag", "Invitation",
    "InvitationBatch", "Item",
    "Kiosk", "Level", "PublishedPeriod", "QuestionnaireVersion", "Response", "ResponseTally", "ServicePoint",
    "ServiceVolume", "TreeRevision", "Unit", "User",
]
