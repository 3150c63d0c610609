"""Administrative tree, agencies, service points, kiosks.

The tree's levels are rows, not code: 2022 Cần Thơ is city → district → commune, the 2025 structure is
city → commune, and both must work.  Units are retired or merged, never deleted, so history stays
reportable under the structure it was collected in.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from survey.database import Base, UTCDateTime, utcnow

# what a service point's kiosks show when it names no questionnaire (kiosk page, API rule, lane function)
DEFAULT_KIOSK_INSTRUMENT = "counter-quick"


class Level(Base):
    """A level of the administrative tree (city, district, commune…); rank 0 is the root."""

    __tablename__ = "level"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    name_vi: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))


class Unit(Base):
    """An administrative unit (thành phố, quận/huyện, xã/phường/thị trấn)."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    level_code: Mapped[str] = mapped_column(ForeignKey("level.code"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    valid_from: Mapped[date | None] = mapped_column(Date)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))

    level: Mapped[Level] = relationship()
    parent: Mapped[Unit | None] = relationship(remote_side=[id], foreign_keys=[parent_id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(foreign_keys=[parent_id], back_populates="parent",
                                                order_by="Unit.code")
    agencies: Mapped[list[Agency]] = relationship(back_populates="unit", order_by="Agency.code")

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_vi

    def ancestors(self) -> list[Unit]:
        """Root first, self last."""
        chain: list[Unit] = []
        node: Unit | None = self
        while node is not None:
            chain.append(node)
            node = node.parent
        return list(reversed(chain))

    @property
    def active(self) -> bool:
        return self.retired_at is None


class Agency(Base):
    """A state agency: a department (sở), the People's Committee of a unit, a service centre."""

    __tablename__ = "agency"

    KINDS = ("department", "people_committee", "service_centre", "other")

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default="other")
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit] = relationship(back_populates="agencies")
    service_points: Mapped[list[ServicePoint]] = relationship(back_populates="agency",
                                                              order_by="ServicePoint.code")

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_vi


class ServicePoint(Base):
    """A counter / one-stop department where citizens are served and asked."""

    __tablename__ = "service_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    kiosk_instrument: Mapped[str] = mapped_column(String(64), default=DEFAULT_KIOSK_INSTRUMENT)
    link_instrument: Mapped[str] = mapped_column(String(64), default="sipas-2017")
    official_on_duty: Mapped[str | None] = mapped_column(String(200))
    # opening hours for the integrity scan, e.g. "Mon-Sat 07:30-11:30,13:30-17:00"; NULL = office hours
    opening_hours: Mapped[str | None] = mapped_column(String(80))
    # the life-cycle field units and agencies have too: NULL = open, else when it stopped accepting responses
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    agency: Mapped[Agency] = relationship(back_populates="service_points")

    @hybrid_property
    def active(self) -> bool:
        """Accepting responses (not retired); in queries `ServicePoint.active` is `retired_at IS NULL`."""
        return self.retired_at is None

    @active.inplace.setter
    def _active_setter(self, value: bool) -> None:
        """`active = False` retires it now (an already retired point keeps its date); True reopens it."""
        if value:
            self.retired_at = None
        elif self.retired_at is None:
            self.retired_at = utcnow()

    @active.inplace.expression
    @classmethod
    def _active_expression(cls) -> ColumnElement[bool]:
        return cls.retired_at.is_(None)
    kiosks: Mapped[list[Kiosk]] = relationship(back_populates="service_point", order_by="Kiosk.code")

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_vi


class Kiosk(Base):
    """A tablet/PC at a counter.  Authenticated by a device credential obtained with a one-time code."""

    __tablename__ = "kiosk"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    service_point_id: Mapped[int] = mapped_column(ForeignKey("service_point.id"), index=True)
    enrolment_code_hash: Mapped[str | None] = mapped_column(String(128))
    enrolment_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    credential_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_submission_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queue_length: Mapped[int] = mapped_column(Integer, default=0)
    software_version: Mapped[str | None] = mapped_column(String(64))
    # queued responses the server keeps refusing with an error (the kiosk retries them with backoff while the
    # rest of its queue moves on), and the HTTP status of the latest such failure; reported by the heartbeat
    failing_items: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_failure_status: Mapped[int | None] = mapped_column(Integer)

    service_point: Mapped[ServicePoint] = relationship(back_populates="kiosks")


class ServiceVolume(Base):
    """Dossiers handled at a service point in a month: post-stratification totals and Decision 766."""

    __tablename__ = "service_volume"
    __table_args__ = (UniqueConstraint("service_point_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_point_id: Mapped[int] = mapped_column(ForeignKey("service_point.id"), index=True)
    period: Mapped[date] = mapped_column(Date)  # first day of the month (local time)
    dossiers: Mapped[int] = mapped_column(Integer)
    dissatisfied_or_complaints: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
