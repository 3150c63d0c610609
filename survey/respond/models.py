"""Responses, answers, comments, invitations, and the count tables the dashboards read.

No respondent personal data is stored: no IP address, name, phone number or device fingerprint.
Answers are one small-integer row each (value 0 = "no opinion"), and every accepted response also
increments `answer_tally`/`response_tally` in the same transaction, so a dashboard figure is a GROUP BY
over a few thousand count rows per service point instead of a scan of every answer.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from survey.database import Base, BigId, UTCDateTime, UTCSecond

CHANNELS = ("kiosk", "qr", "web", "paper")
NO_OPINION = 0


class Response(Base):
    __tablename__ = "response"
    __table_args__ = (
        CheckConstraint("channel IN ('kiosk', 'qr', 'web', 'paper')", name="channel"),
        CheckConstraint("review_status IN ('held', 'excluded', 'late')", name="review_status"),
        Index("ix_response_sp_period", "service_point_id", "period"),
        Index("ix_response_review_status", "review_status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)  # client-generated: resubmission is stored once
    questionnaire_version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_version.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    service_point_id: Mapped[int] = mapped_column(ForeignKey("service_point.id"))
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosk.id"))
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitation.id"), unique=True)
    channel: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(5))
    submitted_at: Mapped[datetime] = mapped_column(UTCSecond, index=True)  # seconds only (security.md §5)
    received_at: Mapped[datetime] = mapped_column(UTCSecond)
    period: Mapped[date] = mapped_column(Date)  # first day of submitted_at's month in local time
    # Quarantine (survey/respond/quarantine.py): NULL = counted; "held" = set aside automatically until
    # reviewed; "excluded" = excluded after review; "late" = received for a published period, waiting for a
    # revision (survey/results/publication.py).  None of them is in the count tables; all are kept.
    review_status: Mapped[str | None] = mapped_column(String(10))
    review_reason: Mapped[str | None] = mapped_column(String(300))
    review_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    answers: Mapped[list[Answer]] = relationship(back_populates="response", cascade="all, delete-orphan")
    comment: Mapped[Comment | None] = relationship(back_populates="response", uselist=False)

    @validates("submitted_at", "received_at")
    def _to_the_second(self, _key: str, value: datetime | None) -> datetime | None:
        """Moments are kept to the second: microseconds next to a kiosk or invitation id would let anyone
        holding a log of the counter join an answer to the citizen served then (docs/security.md §5)."""
        return value.replace(microsecond=0) if value is not None else None


class Answer(Base):
    """One answer: level/option value (≥ 1) or 0 for "no opinion"; a multiple choice has a row per option."""

    __tablename__ = "answer"

    response_id: Mapped[int] = mapped_column(ForeignKey("response.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), primary_key=True)
    value: Mapped[int] = mapped_column(SmallInteger, primary_key=True)

    response: Mapped[Response] = relationship(back_populates="answers")


class Comment(Base):
    """A citizen's free text, kept apart from scores; moderation hides it (logged), never edits it."""

    __tablename__ = "comment"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("response.id", ondelete="CASCADE"), unique=True)
    item_code: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    hidden_reason: Mapped[str | None] = mapped_column(String(300))

    response: Mapped[Response] = relationship(back_populates="comment")


class InvitationBatch(Base):
    """A batch of single-use receipt tokens printed for one service point."""

    __tablename__ = "invitation_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_point_id: Mapped[int] = mapped_column(ForeignKey("service_point.id"), index=True)
    instrument: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    invitations: Mapped[list[Invitation]] = relationship(back_populates="batch")


class Invitation(Base):
    """One receipt token; only its SHA-256 is stored, so the database cannot print it again."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("invitation_batch.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    batch: Mapped[InvitationBatch] = relationship(back_populates="invitations")


class ResponseTally(Base):
    """Responses per questionnaire version × service point × month × channel (maintained on insert)."""

    __tablename__ = "response_tally"

    questionnaire_version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_version.id"), primary_key=True)
    service_point_id: Mapped[int] = mapped_column(ForeignKey("service_point.id"), primary_key=True)
    period: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class AnswerTally(Base):
    """Answers per … × item × value (maintained in the same transaction as the response insert)."""

    __tablename__ = "answer_tally"
    # dashboards read one questionnaire's months (results/totals.py caches month by month): range scans
    __table_args__ = (Index("ix_answer_tally_version_period", "questionnaire_version_id", "period"),)

    questionnaire_version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_version.id"), primary_key=True)
    service_point_id: Mapped[int] = mapped_column(ForeignKey("service_point.id"), primary_key=True)
    period: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), primary_key=True)
    value: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class MomentTally(Base):
    """Respondent-level second moments per questionnaire version × service point × month × channel.

    `gram` packs G = Σ_r u_r·u_rᵀ over the cell's respondents, u_r = (satisfied, value, answered) of every
    scored item of the version's own index definition (item-major, `survey/respond/moments.py`).  With
    service points as strata and respondents as the sampled units (the "counters" design,
    docs/methodology-design.md), every variance — composites included — is a quadratic form in G, so the
    dashboards never read answer rows.  Maintained in the same transaction as `response_tally`.
    """

    __tablename__ = "moment_tally"
    # a page re-reads only the cells changed since it last read a month (survey/results/design.py:month_cells)
    __table_args__ = (Index("ix_moment_tally_version_period_last", "questionnaire_version_id", "period",
                            "last_response_id"),)

    questionnaire_version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_version.id"), primary_key=True)
    service_point_id: Mapped[int] = mapped_column(ForeignKey("service_point.id"), primary_key=True)
    period: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    respondents: Mapped[int] = mapped_column(Integer, default=0)
    gram: Mapped[bytes] = mapped_column(LargeBinary)
    last_response_id: Mapped[int] = mapped_column(BigId, default=0)
    """The highest response id added to the cell: cached months are refreshed by re-reading only the cells
    above the id they last saw (checked against the month's respondent count, which catches a response
    with a lower id committed later)."""


class TallyRevision(Base):
    """One row counting every change that REMOVED responses from (or returned them to) the count tables.

    Result caches key on month response counts and the newest response id, which only ever grow when
    responses are added; a quarantine decision breaks that (hold one, store another: same count, other
    data).  Every such decision raises `revision`, and the caches include it in their keys
    (survey/results/cache.py:tally_revision, survey/results/month_cells.py).
    """

    __tablename__ = "tally_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
