"""Loading questionnaire definition files into versioned records, and reading them back (cached).

A version that has responses is immutable: loading a changed file under the same version is refused, with
a message saying to bump the version; an identical file is a no-op, so `load` is safe to repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from threading import Lock
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from questionnaires.loader import load_dict
from questionnaires.model import Questionnaire
from survey.database import Base, utcnow
from survey.errors import N_, DomainError, register
from survey.questionnaire_versions.models import Item, QuestionnaireVersion

register({"version_has_responses": N_(
    "%(id)s version %(version)d already has responses, so it cannot change. Give the changed file a new version "
    "number (e.g. %(next)d) and upload it again.")})


class VersionImmutableError(DomainError):
    """The version already has responses and the file differs from what was published."""


@dataclass(frozen=True)
class LoadOutcome:
    record: QuestionnaireVersion
    action: str  # "created", "unchanged", "replaced"


def has_responses(session: Session, version_id: int) -> bool:
    """Whether any response uses the version (then it is immutable).  The response table is looked up by
    name in the metadata: `respond` builds on questionnaire versions, never the other way round."""
    response = Base.metadata.tables["response"]
    count = session.scalar(select(func.count()).select_from(response)
                           .where(response.c.questionnaire_version_id == version_id))
    return bool(count)


def store_questionnaire(session: Session, q: Questionnaire, status: str = "published") -> LoadOutcome:
    """Create or (when still unused) replace the stored version of `q`.  Does not commit."""
    checksum = q.checksum()
    existing = session.scalar(select(QuestionnaireVersion).where(
        QuestionnaireVersion.instrument == q.id, QuestionnaireVersion.version == q.version))
    if existing is not None:
        if existing.checksum == checksum:
            return LoadOutcome(existing, "unchanged")
        if has_responses(session, existing.id):
            raise VersionImmutableError("version_has_responses", "file", id=q.id, version=q.version,
                                        next=q.version + 1)
        session.execute(delete(Item).where(Item.questionnaire_version_id == existing.id))
        record, action = existing, "replaced"
    else:
        record = QuestionnaireVersion(instrument=q.id, version=q.version)
        session.add(record)
        action = "created"
    record.title_vi = q.title["vi"]
    record.title_en = q.title["en"]
    record.definition = q.definition
    record.checksum = checksum
    record.status = status
    record.loaded_at = utcnow()
    session.flush()
    for position, item in enumerate(q.items()):
        session.add(Item(questionnaire_version_id=record.id, code=item.code, type=item.type, position=position))
    session.flush()
    _cache.pop((str(session.get_bind().engine.url), record.id), None)
    return LoadOutcome(record, action)


_cache: dict[tuple[str, int], tuple[str, Questionnaire, dict[str, int]]] = {}
_cache_lock = Lock()


def questionnaire_for(session: Session, version_id: int) -> tuple[Questionnaire, dict[str, int]]:
    """The parsed questionnaire of a stored version and its item code → item id map (cached by checksum)."""
    record = session.get(QuestionnaireVersion, version_id)
    if record is None:
        raise LookupError(f"unknown questionnaire version id {version_id}")
    key = (str(session.get_bind().engine.url), version_id)
    cached = _cache.get(key)
    if cached is not None and cached[0] == record.checksum:
        return cached[1], cached[2]
    q = _parsed(record.checksum, record.definition, record.label)
    item_ids = {code: iid for code, iid in session.execute(
        select(Item.code, Item.id).where(Item.questionnaire_version_id == version_id))}
    with _cache_lock:
        _cache[key] = (record.checksum, q, item_ids)
    return q, item_ids


_by_checksum: dict[str, Questionnaire] = {}
_BY_CHECKSUM_MAX = 64


def _parsed(checksum: str, definition: dict[str, Any], label: str) -> Questionnaire:
    """The parsed definition, shared by every database and version with the same content: parsing validates
    against the JSON schema (tens of ms for SIPAS), which a new process or database would otherwise repeat."""
    q = _by_checksum.get(checksum)
    if q is None:
        q = load_dict(definition, source=f"db:{label}")
        with _cache_lock:
            if len(_by_checksum) >= _BY_CHECKSUM_MAX:
                _by_checksum.pop(next(iter(_by_checksum)))
            _by_checksum[checksum] = q
    return q


def latest_published(session: Session, instrument: str) -> QuestionnaireVersion | None:
    return session.scalar(
        select(QuestionnaireVersion)
        .where(QuestionnaireVersion.instrument == instrument, QuestionnaireVersion.status == "published")
        .order_by(QuestionnaireVersion.version.desc())
        .limit(1))
