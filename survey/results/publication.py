"""Published periods: a period Home Affairs has reported does not change silently.

Kiosks may send responses up to 31 days late, so a month already reported could still move.  Publishing
freezes the period's figures at a data cut-off (the highest response id and its reception time) and stores
the period report as rendered then (HTML in both languages, XLSX, PDF body); the report URL serves it.

The live figures (agency page, Home Affairs comparison, their CSV/XLSX exports, the live report) stay as
published too, at no cost to pages: a response received later for a published month is stored with
review status "late" (survey/respond/store.py) and so never enters the count tables every figure is read
from — exactly like a quarantined one.  It is kept and counted separately ("n responses received after
publication", `late_responses`), and enters the figures only when Home Affairs issues a revision (a new
publication, revision + 1, with a reason): the revision's cut-off is taken, late responses up to it are
counted (`quarantine.fold_in`), and the report is rendered again.  Responses stored while a publication
is being made, above its cut-off, are made late (`quarantine.defer`), so the published figures are exactly
those of the responses up to the cut-off (less any excluded after review).

Review decisions still apply to published periods: confirming a flag removes its responses from the live
figures at once (shown as "n responses excluded after review"), while the stored report keeps its figures
until the next revision; dismissing a flag never brings a late response in (quarantine.month_cutoff).

Every publication is audited; none is ever deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from survey.audit import record
from survey.database import Base, UTCDateTime, utcnow
from survey.errors import N_, DomainError, register
from survey.respond import quarantine
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


def period_responses(session: Session, questionnaire_version_id: int, start: date, end: date) -> int:
    """Counted responses of the period (those in its figures)."""
    return int(session.scalar(select(func.count()).select_from(Response).where(
        Response.questionnaire_version_id == questionnaire_version_id, Response.period >= start,
        Response.period <= end, Response.review_status.is_(None))) or 0)


def current(session: Session, questionnaire_version_id: int, label: str) -> PublishedPeriod | None:
    """The latest revision of a period's publication, if any."""
    return session.scalars(select(PublishedPeriod).where(
        PublishedPeriod.questionnaire_version_id == questionnaire_version_id, PublishedPeriod.label == label)
        .order_by(PublishedPeriod.revision.desc()).limit(1)).first()


def late_responses(session: Session, pub: PublishedPeriod) -> int:
    """Responses of the period received after its publication and waiting for a revision: in no figure yet
    (pages count their own selection's through survey.results.coverage: `Coverage.late`)."""
    return quarantine.late_count(session, questionnaire_version_ids=[pub.questionnaire_version_id],
                                 period_from=pub.start, period_to=pub.end)


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


def revised_in(session: Session, pub: PublishedPeriod) -> int:
    """Responses a revision counts that arrived after the previous revision's cut-off (0 for revision 1)."""
    if pub.revision <= 1:
        return 0
    prev = session.scalar(select(PublishedPeriod.cutoff_response_id).where(
        PublishedPeriod.questionnaire_version_id == pub.questionnaire_version_id, PublishedPeriod.label == pub.label,
        PublishedPeriod.revision == pub.revision - 1))
    return int(session.scalar(select(func.count()).select_from(Response).where(
        Response.questionnaire_version_id == pub.questionnaire_version_id, Response.period >= pub.start,
        Response.period <= pub.end, Response.review_status.is_(None), Response.id > (prev or 0),
        Response.id <= pub.cutoff_response_id)) or 0)


register({"revision_reason_missing": N_("A revision needs a reason: say why the published figures change.")})


class PublicationError(DomainError):
    """A revision without a reason: nothing is published."""


Documents = dict[str, tuple[str, bytes, str]]


def publish(session: Session, *, questionnaire_version_id: int, label: str, start: date, end: date, measure: str,
            build: Callable[[], Documents], at: Cutoff, user_id: int | None, reason: str = "",
            commit: bool = True) -> PublishedPeriod:
    """Store a publication (revision 1) or a revision (n + 1, reason required) at data cut-off `at` (taken
    BEFORE anything else), with its documents: `build()` returns lang → (HTML body, XLSX bytes, HTML body
    as the PDF renders it) and is called once the count tables hold exactly the period's responses up to
    the cut-off (late ones folded in, ones stored meanwhile deferred)."""
    earlier = current(session, questionnaire_version_id, label)
    text = " ".join(str(reason or "").split())[:300]
    if earlier is not None and not text:
        raise PublicationError("revision_reason_missing", "reason")
    pub = PublishedPeriod(
        questionnaire_version_id=questionnaire_version_id, label=label, start=start, end=end, measure=measure,
        revision=1 if earlier is None else earlier.revision + 1, reason=text, published_at=utcnow(),
        published_by_id=user_id, cutoff_response_id=at.response_id, cutoff_received_at=at.received_at,
        html_vi="", html_en="", xlsx_vi=b"", xlsx_en=b"")
    session.add(pub)
    session.flush()  # quarantine.month_cutoff sees the new cut-off from here on
    why = f"period {label} published, revision {pub.revision}"
    deferred = quarantine.defer(session, questionnaire_version_id, start, end, at.response_id, why, commit=False)
    folded = quarantine.fold_in(session, questionnaire_version_id, start, end, at.response_id,
                                f"{why}: {text}" if text else why, commit=False)
    counted = period_responses(session, questionnaire_version_id, start, end)
    documents = build()
    # Under the exclusive lock no response can be stored until the publication commits: responses committed
    # during the build above the cut-off become late too, and if the period's counted responses changed
    # during the build (PostgreSQL reads each statement afresh) the documents are rendered again.
    quarantine.lock_publications(session, exclusive=True)
    meanwhile = quarantine.defer(session, questionnaire_version_id, start, end, at.response_id, why, commit=False)
    deferred += meanwhile
    if meanwhile or period_responses(session, questionnaire_version_id, start, end) != counted:
        documents = build()
    pub.html_vi, pub.xlsx_vi, pub.pdf_html_vi = documents["vi"]
    pub.html_en, pub.xlsx_en, pub.pdf_html_en = documents["en"]
    pub.responses = period_responses(session, questionnaire_version_id, start, end)
    record(session, "period.publish" if earlier is None else "period.revise", "published_period", pub.id,
           before=None if earlier is None else {"revision": earlier.revision,
                                                "cutoff_response_id": earlier.cutoff_response_id},
           after={"questionnaire_version_id": questionnaire_version_id, "period": label, "revision": pub.revision,
                  "cutoff_response_id": pub.cutoff_response_id, "responses": pub.responses, "reason": text,
                  "late_counted": folded, "deferred": deferred})
    if commit:
        session.commit()
        # a store whose look-up began before the commit and was granted the lock after it is still counted:
        # sweep once more, after every such store has committed (quarantine.lock_publications)
        quarantine.lock_publications(session, exclusive=True)
        quarantine.defer(session, questionnaire_version_id, start, end, at.response_id, why, commit=False)
        session.commit()  # ends the transaction, so the lock is released at once
    return pub
