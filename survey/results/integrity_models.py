"""Persisted integrity flags: one per service point × day the scan found unusual, with its evidence."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from survey.database import Base, UTCDateTime

OPEN, CONFIRMED, DISMISSED = "open", "confirmed", "dismissed"


class IntegrityFlag(Base):
    """A flagged cell awaiting (or after) Home Affairs' review.

    `evidence` holds the figures the page shows (per-source statistics, arrivals over the day, answer
    pattern, month volume); `response_ids` the responses a confirmation excludes (the suspect ones:
    those in the burst, straight-lined, outside hours, or the whole source-day for an overrun).  No
    respondent data.  Nothing is deleted: a decision is reversed by another decision, each audited.
    """

    __tablename__ = "integrity_flag"
    __table_args__ = (
        UniqueConstraint("service_point_id", "day", name="uq_integrity_flag_cell"),
        CheckConstraint("status IN ('open', 'confirmed', 'dismissed')", name="integrity_flag_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_point_id: Mapped[int] = mapped_column(ForeignKey("service_point.id"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)  # local day
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosk.id"))
    source: Mapped[str] = mapped_column(String(40))  # "kiosk:<id>" or the channel
    score: Mapped[float] = mapped_column(Float)
    signals: Mapped[list[str]] = mapped_column(JSON)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    response_ids: Mapped[list[int]] = mapped_column(JSON)
    responses: Mapped[int] = mapped_column(Integer)  # responses of the service point that day
    status: Mapped[str] = mapped_column(String(10), default=OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str | None] = mapped_column(String(300))
