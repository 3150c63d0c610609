"""Paper questionnaires typed into the analysis exchange format (docs/contracts.md §3): check, then import.

`check_table` finds EVERY problem of every row (line, column, problem) without writing anything, so a clerk
fixes the file in one pass.  `import_checked` stores all rows or none: one transaction, `store_response`
(commit=False) for each row with channel `paper`, one audit event for the batch.  `response_id` is the
client id, so importing the same file twice stores nothing the second time; a row whose response_id is
stored already with DIFFERENT content (a corrected batch) is a conflict, reported per cell (stored vs file),
and the file is refused whole: a correction never silently changes nothing, and never overwrites either.

Reading choices the contract leaves open (shown on the upload page):
- `submitted_at` may be ISO 8601 with an offset, or a local date/time without one (a paper form carries a
  date, not a time zone), which is read as Vietnam time; an Excel date cell likewise;
- `channel` may be empty or `paper`; `language` empty means Vietnamese; `weight` and the tree-level columns
  are ignored (the service point fixes the place; a non-empty `agency` must be the service point's agency);
- a scale cell may hold 0 for "no opinion" where the scale offers it (the export writes it as empty);
- a free-text item's column (not in exports) is taken as the comment.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from questionnaires.model import Answer as AnswerValue
from questionnaires.model import Item, Questionnaire
from survey.audit import record
from survey.database import utcnow
from survey.i18n import CITIZEN_LANGUAGES, LOCAL_TZ
from survey.inputs import whole_number
from survey.org.models import Level, ServicePoint
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.answer_messages import validate_answers
from survey.respond.models import Answer, Comment, Response
from survey.respond.store import Submission, SubmissionError, existing_response, store_response
from survey.uploads import Cell, RowError, Table, empty_table_error, header_errors

REQUIRED = ("response_id", "submitted_at", "questionnaire", "questionnaire_version", "service_point")
IGNORED = ("channel", "language", "agency", "weight")
FUTURE_SLACK = timedelta(minutes=10)
#: no paper form is older: a year typed "0022" for 2022 made month "22-07", which the pages cannot read (a 500)
EARLIEST_YEAR = 2000


@dataclass
class PaperCheck:
    """The outcome of a dry run: the submissions ready to store (by line) and every problem found."""

    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    submissions: list[tuple[int, Submission]] = field(default_factory=list)
    already: int = 0  # rows whose response_id is stored already with the same content (a no-op)
    conflicts: int = 0  # rows whose response_id is stored already with different content (refused)

    @property
    def new(self) -> int:
        return len(self.submissions) - self.already

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.submissions)


def item_columns(q: Questionnaire) -> dict[str, Item]:
    """Column name → item, for one questionnaire: scored items, `<item>#<option>` for multiple choice,
    and free-text items."""
    out: dict[str, Item] = {}
    for it in q.items():
        if it.type == "choice" and it.multiple:
            for o in it.options:
                out[f"{it.code}#{o.value}"] = it
        else:
            out[it.code] = it
    return out


class _Lookups:
    """Service points and questionnaire versions, read once per check."""

    def __init__(self, session: Session):
        self.session = session
        self.points = {sp.code: sp for sp in session.scalars(select(ServicePoint))}
        self.versions = {(qv.instrument, qv.version): qv for qv in session.scalars(select(QuestionnaireVersion))}
        self.levels = set(session.scalars(select(Level.code)))
        self._parsed: dict[int, tuple[Questionnaire, dict[str, Item]]] = {}

    def parsed(self, qv: QuestionnaireVersion) -> tuple[Questionnaire, dict[str, Item]]:
        if qv.id not in self._parsed:
            q, _ids = questionnaire_for(self.session, qv.id)
            self._parsed[qv.id] = (q, item_columns(q))
        return self._parsed[qv.id]

    def all_item_columns(self) -> set[str]:
        cols: set[str] = set()
        for qv in self.versions.values():
            cols |= set(self.parsed(qv)[1])
        return cols


def parse_moment(cell: Cell) -> datetime | None:
    """An aware UTC datetime, or None when the cell is not a date/time we can read."""
    if isinstance(cell, datetime):
        moment = cell
    else:
        text = cell.strip()
        if not text:
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01 in Vietnam time, 9999-12-31 at -12:00: no UTC moment (a 500 before)
        return None


def _int_cell(cell: Cell) -> int | None:
    text = cell.strip() if isinstance(cell, str) else ""
    if text.endswith(".0"):
        text = text[:-2]
    return whole_number(text) if text.isdigit() else None


def _header_errors(table: Table, lk: _Lookups) -> list[RowError]:
    errors = header_errors(table.header, REQUIRED)
    known = set(REQUIRED) | set(IGNORED) | lk.levels | lk.all_item_columns()
    for name in table.header:
        if name and name not in known:
            errors.append(RowError(1, name, _("Unknown item column: no stored questionnaire has this question.")))
        elif not name:
            errors.append(RowError(1, "", _("A column has no name.")))
    return errors


def _answers(line: int, cells: dict[str, Cell], q: Questionnaire, columns: dict[str, Item],
             label: str, other_items: set[str]) -> tuple[dict[str, AnswerValue], list[RowError]]:
    """The row's answers for `q`, and the cell problems (values outside the scale, other questionnaires)."""
    errors: list[RowError] = []
    answers: dict[str, AnswerValue] = {}
    chosen: dict[str, list[int]] = {}
    for column, cell in cells.items():
        if column in REQUIRED or column in IGNORED or cell == "":
            continue
        item = columns.get(column)
        if item is None:
            if column in other_items:  # a question of another questionnaire in the same file
                errors.append(RowError(line, column, _("%(questionnaire)s has no such question; leave this cell "
                                                        "empty.", questionnaire=label)))
            continue
        if item.type == "text":
            answers[item.code] = cell if isinstance(cell, str) else str(cell)
            continue
        value = _int_cell(cell) if isinstance(cell, str) else None
        if item.type == "choice" and item.multiple:
            if value not in (0, 1):
                errors.append(RowError(line, column, _("Write 1 when this option was chosen, 0 or nothing when "
                                                       "not (found %(value)s).", value=cell)))
                continue
            chosen.setdefault(item.code, [])
            if value == 1:
                chosen[item.code].append(int(column.split("#", 1)[1]))
            continue
        allowed = list(item.values) + ([0] if item.offers_no_opinion else [])
        if value is None or value not in allowed:
            errors.append(RowError(line, column, _("Value %(value)s is outside the scale: allowed are %(allowed)s.",
                                                   value=cell, allowed=", ".join(map(str, allowed)))))
            continue
        answers[item.code] = value
    for code, values in chosen.items():
        answers[code] = values
    return answers, errors


def check_table(session: Session, table: Table, lang: str) -> PaperCheck:
    """Every problem of the file, and the submissions it would store.  Reads only."""
    lk = _Lookups(session)
    result = PaperCheck(rows=len(table.rows))
    result.errors += _header_errors(table, lk)
    if any(e.column in REQUIRED and e.line == 1 for e in result.errors):
        return result
    all_items = lk.all_item_columns()
    seen: dict[str, int] = {}
    now = utcnow()
    for line, cells in table.rows:
        row_errors, sub = _check_row(lk, line, cells, seen, now, lang, all_items)
        result.errors += row_errors
        if sub is not None and not row_errors:
            stored = existing_response(session, sub.client_id)
            if stored is not None:
                conflicts = _conflicts(session, lk, line, stored, sub)
                if conflicts:
                    result.errors += conflicts
                    result.conflicts += 1
                    continue
                result.already += 1
            result.submissions.append((line, sub))
    result.errors += empty_table_error(table)
    return result


def _shown(value: object) -> str:
    if value is None or value == [] or value == "":
        return _("(empty)")
    if isinstance(value, list):
        return ", ".join(map(str, sorted(value)))
    return str(value)


def _stored_answers(session: Session, response: Response, item_ids: dict[str, int]) -> dict[str, AnswerValue]:
    """A stored response's answers in the shape the file's rows take (code → int, sorted list or text)."""
    by_id = {v: k for k, v in item_ids.items()}
    out: dict[str, AnswerValue] = {}
    for item_id, value in session.execute(select(Answer.item_id, Answer.value)
                                          .where(Answer.response_id == response.id)):
        code = by_id.get(item_id, str(item_id))
        current = out.get(code)
        if isinstance(current, list):
            current.append(value)
        elif isinstance(current, int):  # stored answers are integers (comments are added below)
            out[code] = [current, value]
        else:
            out[code] = value
    comment = session.scalar(select(Comment).where(Comment.response_id == response.id))
    if comment is not None:
        out[comment.item_code] = comment.text
    return out


def _options(value: AnswerValue) -> list[int]:
    """A multiple-choice answer as its sorted options (a single chosen option is stored like a one-value answer)."""
    if isinstance(value, list):
        return sorted(value)
    if value is None:
        return []
    assert isinstance(value, int), "a multiple-choice item holds option numbers"
    return [value]


def _conflicts(session: Session, lk: _Lookups, line: int, stored: Response, sub: Submission) -> list[RowError]:
    """Every cell in which a row differs from the response already stored under its response_id."""

    def conflict(column: str, was: object, now: object) -> RowError:
        return RowError(line, column, _("Conflict: this response_id is already stored with %(stored)s; the file "
                                        "says %(file)s. Nothing was changed.", stored=_shown(was), file=_shown(now)))

    out: list[RowError] = []
    if stored.service_point_id != sub.service_point_id:
        points = {sp.id: sp.code for sp in lk.points.values()}
        out.append(conflict("service_point", points.get(stored.service_point_id), points.get(sub.service_point_id)))
    if stored.questionnaire_version_id != sub.questionnaire_version_id:
        labels = {qv.id: qv.label for qv in lk.versions.values()}
        out.append(conflict("questionnaire_version", labels.get(stored.questionnaire_version_id),
                            labels.get(sub.questionnaire_version_id)))
        return out  # the items of two versions are not comparable
    if sub.submitted_at is not None and stored.submitted_at != sub.submitted_at:
        out.append(conflict("submitted_at", stored.submitted_at.astimezone(LOCAL_TZ).isoformat(),
                            sub.submitted_at.astimezone(LOCAL_TZ).isoformat()))
    if stored.language != sub.language:
        out.append(conflict("language", stored.language, sub.language))
    q, item_ids = questionnaire_for(session, sub.questionnaire_version_id)
    was = _stored_answers(session, stored, item_ids)
    for item in q.items():
        old, new = was.get(item.code), sub.answers.get(item.code)
        if isinstance(old, list) or isinstance(new, list):
            old, new = _options(old), _options(new)
        if old != new and not (old in (None, "", []) and new in (None, "", [])):
            out.append(conflict(_item_column(q, item.code), old, new))
    return out


def _check_row(lk: _Lookups, line: int, cells: dict[str, Cell], seen: dict[str, int], now: datetime,
               lang: str, all_items: set[str]) -> tuple[list[RowError], Submission | None]:
    errors: list[RowError] = []

    def text(col: str) -> str:
        v = cells.get(col, "")
        return v.strip() if isinstance(v, str) else str(v)

    raw_id = text("response_id")
    client_id = None
    if not raw_id:
        errors.append(RowError(line, "response_id", _("Required: a unique id (UUID) for this paper form.")))
    else:
        try:
            client_id = str(uuid.UUID(raw_id))
        except ValueError:
            errors.append(RowError(line, "response_id", _("Not a UUID (like 2bc3b4de-f2ea-4f10-ac90-60a67b7e617e).")))
        else:
            if client_id in seen:
                errors.append(RowError(line, "response_id", _("Duplicate: line %(other)d has the same response_id.",
                                                              other=seen[client_id])))
            else:
                seen[client_id] = line
    moment = None
    cell = cells.get("submitted_at", "")
    if cell == "":
        errors.append(RowError(line, "submitted_at", _("Required: the date the form was filled in.")))
    else:
        moment = parse_moment(cell)
        if moment is None:
            errors.append(RowError(line, "submitted_at", _("Not a date: write 2022-07-12 or "
                                                           "2022-07-12T10:15:00+07:00 (found %(value)s).",
                                                           value=cell)))
        elif moment > now + FUTURE_SLACK:
            errors.append(RowError(line, "submitted_at", _("This date is in the future.")))
        elif moment.astimezone(LOCAL_TZ).year < EARLIEST_YEAR:
            errors.append(RowError(line, "submitted_at", _("This date is before %(year)s: check the year (found "
                                                           "%(value)s).", year=EARLIEST_YEAR, value=cell)))
    sp = lk.points.get(text("service_point"))
    if not text("service_point"):
        errors.append(RowError(line, "service_point", _("Required: the service point code.")))
    elif sp is None:
        errors.append(RowError(line, "service_point", _("Unknown service point %(code)s.",
                                                        code=text("service_point"))))
    elif not sp.active:
        errors.append(RowError(line, "service_point", _("Service point %(code)s is retired.", code=sp.code)))
    elif text("agency") and text("agency") != sp.agency.code:
        errors.append(RowError(line, "agency", _("Service point %(sp)s belongs to agency %(agency)s, not %(given)s.",
                                                 sp=sp.code, agency=sp.agency.code, given=text("agency"))))
    if text("channel") not in ("", "paper"):
        errors.append(RowError(line, "channel", _("Only paper responses are imported here: write paper or leave "
                                                  "the cell empty.")))
    language = text("language") or "vi"
    if language not in CITIZEN_LANGUAGES:  # km: a Khmer paper form (issue 15)
        errors.append(RowError(line, "language", _("Write vi, en or km (or leave the cell empty).")))
    qv = _version(lk, line, text("questionnaire"), text("questionnaire_version"), errors)
    if qv is None:
        return errors, None
    q, columns = lk.parsed(qv)
    answers, cell_errors = _answers(line, cells, q, columns, qv.label, all_items)
    errors += cell_errors
    bad_items = {columns[e.column].code for e in cell_errors if e.column in columns}
    for code, message in validate_answers(q, answers, lang).items():
        if code not in bad_items:
            errors.append(RowError(line, _item_column(q, code), message))
    if errors or sp is None or client_id is None or moment is None:
        return errors, None
    return [], Submission(service_point_id=sp.id, questionnaire_version_id=qv.id, answers=answers,
                          channel="paper", language=language, client_id=client_id, submitted_at=moment)


def _item_column(q: Questionnaire, code: str) -> str:
    try:
        item = q.item(code)
    except KeyError:
        return code
    return f"{code}#…" if item.type == "choice" and item.multiple else code


def _version(lk: _Lookups, line: int, instrument: str, version: str, errors: list[RowError]
             ) -> QuestionnaireVersion | None:
    if not instrument:
        errors.append(RowError(line, "questionnaire", _("Required: the questionnaire id, e.g. sipas-2017.")))
        return None
    number = _int_cell(version)
    if number is None:
        errors.append(RowError(line, "questionnaire_version", _("Required: the version number, e.g. 1.")))
        return None
    qv = lk.versions.get((instrument, number))
    if qv is None:
        label = f"{instrument} v{number}"
        errors.append(RowError(line, "questionnaire_version", _("Unknown questionnaire version %(label)s.",
                                                                label=label)))
        return None
    if qv.status != "published":
        errors.append(RowError(line, "questionnaire_version",
                               _("%(label)s is not published (it is %(status)s): its responses cannot be imported.",
                                 label=qv.label, status=qv.status)))
        return None
    return qv


@dataclass(frozen=True)
class ImportOutcome:
    new: int
    already: int


def import_checked(session: Session, check: PaperCheck, filename: str, raw: bytes) -> ImportOutcome:
    """Store every submission of a clean check in the caller's transaction, then audit the batch.

    Raises SubmissionError (with the line added to its errors) if the store refuses a row; the caller rolls
    back, so nothing of the file is kept.
    """
    new = already = 0
    for line, sub in check.submissions:
        try:
            _response, created = store_response(session, sub, commit=False)
        except SubmissionError as exc:
            exc.problems = {f"{line}:{k}": v for k, v in exc.problems.items()}
            raise
        new += created
        already += not created
    record(session, "paper.import", "paper_batch", filename[:64],
           after={"file": filename, "sha256": hashlib.sha256(raw).hexdigest(), "rows": len(check.submissions),
                  "new": new, "already_imported": already})
    return ImportOutcome(new, already)
