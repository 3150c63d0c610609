"""Stored questionnaire versions and their items.

The full definition is kept as JSON (what was published is what is analysed), with a checksum so that a
version that has responses can be proven unchanged; items get small integer ids so answers aggregate fast.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.database import Base, UTCDateTime


class QuestionnaireVersion(Base):
    __tablename__ = "questionnaire_version"
    __table_args__ = (UniqueConstraint("instrument", "version"),)

    STATUSES = ("draft", "published", "retired")

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title_vi: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    checksum: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="published")
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    items: Mapped[list[Item]] = relationship(back_populates="questionnaire_version", order_by="Item.position")

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_vi

    @property
    def label(self) -> str:
        return f"{self.instrument} v{self.version}"


class Item(Base):
    """One question of a questionnaire version (its stable code, type and display position)."""

    __tablename__ = "item"
    __table_args__ = (UniqueConstraint("questionnaire_version_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_version.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)

    questionnaire_version: Mapped[QuestionnaireVersion] = relationship(back_populates="items")
