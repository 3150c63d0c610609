"""Published periods: a period Home Affairs has reported does not change silently.

Kiosks may send responses up to 31 days late, so a month already reported could still move.  Publishing
freezes the period report (HTML in both languages and the XLSX, as rendered at publication) with its data
cut-off (the highest response id and its reception time); the report URL then serves that document.
Responses that arrive later for the period are kept and counted in the live figures, and counted
separately beside the published report ("n responses received after publication"); they enter the
published report only when Home Affairs issues a revision (a new publication, revision + 1, with a reason).

Every publication is audited; none is ever deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from survey.audit import record
from survey.database import Base, UTCDateTime, utcnow
from survey.respond.models import Response


class PublishedPeriod(Base):
    """One publication (or revision) of a period's report for one questionnaire version."""

    __tablename__ = "published_period"
    __table_args__ = (UniqueConstraint("questionnaire_version_id", "label", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    questionnaire_version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_version.id"), index=True)
    label: Mapped[str] = mapped_column(String(16))  # 2022-Q4, 2022-11, 2022
    start: Mapped[date] = mapped_column(Date)  # first month
    end: Mapped[date] = mapped_column(Date)  # first day of the last month
    measure: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str] = mapped_column(String(300), default="")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    cutoff_response_id: Mapped[int] = mapped_column(BigInteger, default=0)
    cutoff_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responses: Mapped[int] = mapped_column(Integer, default=0)  # counted responses of the period at publication
    html_vi: Mapped[str] = mapped_column(Text)
    html_en: Mapped[str] = mapped_column(Text)
    xlsx_vi: Mapped[bytes] = mapped_column(LargeBinary)
    xlsx_en: Mapped[bytes] = mapped_column(LargeBinary)
    pdf_html_vi: Mapped[str] = mapped_column(Text, default="")  # the body as the PDF renders it
    pdf_html_en: Mapped[str] = mapped_column(Text, default="")

    def html(self, lang: str) -> str:
        return self.html_en if lang == "en" else self.html_vi

    def pdf_html(self, lang: str) -> str:
        return self.pdf_html_en if lang == "en" else self.pdf_html_vi

    def xlsx(self, lang: str) -> bytes:
        return self.xlsx_en if lang == "en" else self.xlsx_vi


@dataclass(frozen=True)
class Cutoff:
    response_id: int
    received_at: datetime | None


def cutoff(session: Session) -> Cutoff:
    """The data cut-off now: the highest stored response id and the latest reception time."""
    row = session.execute(select(func.max(Response.id), func.max(Response.received_at))).first()
    return Cutoff(int(row[0] or 0), row[1]) if row is not None else Cutoff(0, None)


def period_responses(session: Session, questionnaire_version_id: int, start: date, end: date,
                     *, after_id: int | None = None, up_to_id: int | None = None,
                     agency_id: int | None = None) -> int:
    """Counted responses of the period (optionally only those after / up to a cut-off id, of one agency)."""
    q = select(func.count()).select_from(Response).where(
        Response.questionnaire_version_id == questionnaire_version_id, Response.period >= start,
        Response.period <= end, Response.review_status.is_(None))
    if agency_id is not None:
        q = q.where(Response.agency_id == agency_id)
    if after_id is not None:
        q = q.where(Response.id > after_id)
    if up_to_id is not None:
        q = q.where(Response.id <= up_to_id)
    return int(session.scalar(q) or 0)


def current(session: Session, questionnaire_version_id: int, label: str) -> PublishedPeriod | None:
    """The latest revision of a period's publication, if any."""
    return session.scalars(select(PublishedPeriod).where(
        PublishedPeriod.questionnaire_version_id == questionnaire_version_id, PublishedPeriod.label == label)
        .order_by(PublishedPeriod.revision.desc()).limit(1)).first()


def late_responses(session: Session, pub: PublishedPeriod, agency_id: int | None = None) -> int:
    """Counted responses of the period (of one agency) received after its (latest) publication."""
    return period_responses(session, pub.questionnaire_version_id, pub.start, pub.end,
                            after_id=pub.cutoff_response_id, agency_id=agency_id)


def overlapping(session: Session, questionnaire_version_id: int, first: date | None, last: date | None
                ) -> list[PublishedPeriod]:
    """The latest revision of every published period of the version that overlaps [first, last] (open bounds
    allowed), oldest first: pages of live figures say which of their months are published."""
    q = select(PublishedPeriod).where(PublishedPeriod.questionnaire_version_id == questionnaire_version_id)
    if first is not None:
        q = q.where(PublishedPeriod.end >= first)
    if last is not None:
        q = q.where(PublishedPeriod.start <= last)
    latest: dict[str, PublishedPeriod] = {}
    for p in session.scalars(q.order_by(PublishedPeriod.start, PublishedPeriod.revision)):
        latest[p.label] = p
    return list(latest.values())


class PublicationError(ValueError):
    """A revision without a reason: nothing is published."""


def publish(session: Session, *, questionnaire_version_id: int, label: str, start: date, end: date, measure: str,
            documents: dict[str, tuple[str, bytes, str]], at: Cutoff, user_id: int | None, reason: str = "",
            commit: bool = True) -> PublishedPeriod:
    """Store a publication (revision 1) or a revision (n + 1, reason required) with its documents
    (lang → (HTML body, XLSX bytes, HTML body as the PDF renders it)) and data cut-off `at` (taken BEFORE
    the documents were built)."""
    earlier = current(session, questionnaire_version_id, label)
    text = " ".join(str(reason or "").split())[:300]
    if earlier is not None and not text:
        raise PublicationError("a revision needs a reason")
    pub = PublishedPeriod(
        questionnaire_version_id=questionnaire_version_id, label=label, start=start, end=end, measure=measure,
        revision=1 if earlier is None else earlier.revision + 1, reason=text, published_at=utcnow(),
        published_by_id=user_id, cutoff_response_id=at.response_id, cutoff_received_at=at.received_at,
        responses=period_responses(session, questionnaire_version_id, start, end, up_to_id=at.response_id),
        html_vi=documents["vi"][0], html_en=documents["en"][0], xlsx_vi=documents["vi"][1],
        xlsx_en=documents["en"][1], pdf_html_vi=documents["vi"][2], pdf_html_en=documents["en"][2])
    session.add(pub)
    session.flush()
    record(session, "period.publish" if earlier is None else "period.revise", "published_period", pub.id,
           before=None if earlier is None else {"revision": earlier.revision,
                                                "cutoff_response_id": earlier.cutoff_response_id},
           after={"questionnaire_version_id": questionnaire_version_id, "period": label, "revision": pub.revision,
                  "cutoff_response_id": pub.cutoff_response_id, "responses": pub.responses, "reason": text})
    if commit:
        session.commit()
    return pub
