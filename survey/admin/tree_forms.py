"""Forms of the tree pages.  They check what the user typed (with messages in the user's language) before
the tree service applies its own rules, so the common mistakes never reach it as English exceptions."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import BooleanField, DateField, Field, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from survey.admin.checked_upload import CommitForm
from survey.extensions import db
from survey.forms import FlaskForm
from survey.org import service as svc
from survey.org.models import Agency, Level, ServicePoint, Unit

KIND_LABELS = {"department": _l("Department (sở)"), "people_committee": _l("People's Committee"),
               "service_centre": _l("Public administrative service centre"), "other": _l("Other")}


def _code_format(form: FlaskForm, field: StringField) -> None:
    if field.data and not svc.CODE_RE.match(field.data.strip()):
        raise ValidationError(_("A code has 1 to 32 letters, digits, '.', '_' or '-', starting with a letter "
                                "or digit."))


def _instrument_format(form: FlaskForm, field: StringField) -> None:
    if field.data and not svc.INSTRUMENT_RE.match(field.data.strip()):
        raise ValidationError(_("A questionnaire id has lower-case letters, digits and '-' (e.g. sipas-2017)."))


def _opening_hours_format(form: FlaskForm, field: StringField) -> None:
    from analysis.integrity import OpeningHours

    try:
        OpeningHours.parse(field.data)
    except ValueError:
        raise ValidationError(_("Opening hours look like \"Mon-Sat 07:30-11:30,13:30-17:00\": optional weekdays "
                                "(Mon to Sun), then time spans hh:mm-hh:mm separated by commas.")) from None


def _unique(model: type[Unit | Agency | ServicePoint], message: object) -> Callable[[FlaskForm, StringField], None]:
    def check(form: FlaskForm, field: StringField) -> None:
        if field.data and db.session.scalar(select(model.id).where(model.code == field.data.strip())) is not None:
            raise ValidationError(str(message))
    return check


def _name_fields() -> tuple[StringField, StringField]:
    return (StringField(_l("Name in Vietnamese"), validators=[DataRequired(_l("Enter a name.")), Length(max=200)]),
            StringField(_l("Name in English"), validators=[DataRequired(_l("Enter a name.")), Length(max=200)]))


class OrderedForm(FlaskForm):
    """A form whose fields render in ORDER (subclasses add fields after their parents' otherwise)."""

    ORDER: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Field]:
        names = [n for n in self.ORDER if n in self._fields] + [n for n in self._fields if n not in self.ORDER]
        return iter([self._fields[n] for n in names])


def unit_label(u: Unit, lang: str) -> str:
    return f"{u.code} — {u.name(lang)} ({u.level_code})"


def unit_choices(lang: str, *, none: bool = False, exclude: int | None = None,
                 level_rank: int | None = None) -> list[tuple[str, str]]:
    stmt = select(Unit).join(Level).where(Unit.retired_at.is_(None)).order_by(Level.rank, Unit.code)
    if level_rank is not None:
        stmt = stmt.where(Level.rank == level_rank)
    out = [("", _("— none (top level) —"))] if none else []
    out += [(str(u.id), unit_label(u, lang)) for u in db.session.scalars(stmt) if u.id != exclude]
    return out


def agency_choices(lang: str, exclude: int | None = None) -> list[tuple[str, str]]:
    stmt = select(Agency).where(Agency.retired_at.is_(None)).order_by(Agency.code)
    return [(str(a.id), f"{a.code} — {a.name(lang)}") for a in db.session.scalars(stmt) if a.id != exclude]


def level_choices(lang: str) -> list[tuple[str, str]]:
    return [(lv.code, lv.name_en if lang == "en" else lv.name_vi)
            for lv in db.session.scalars(select(Level).order_by(Level.rank))]


class UnitEditForm(OrderedForm):
    ORDER = ("code", "level", "name_vi", "name_en", "parent", "valid_from")
    name_vi, name_en = _name_fields()
    parent = SelectField(_l("Parent unit"), choices=[], validate_choice=True)
    valid_from = DateField(_l("Valid from (optional)"), validators=[Optional()])


class UnitCreateForm(UnitEditForm):
    code = StringField(_l("Code"), validators=[DataRequired(_l("Enter a code.")), _code_format,
                                               _unique(Unit, _l("Another unit already has this code."))],
                       description=_l("Short and permanent, e.g. NK-AH. It cannot be changed later."))
    level = SelectField(_l("Level"), choices=[], validate_choice=True)


class MergeUnitForm(FlaskForm):
    target = SelectField(_l("Merge into"), choices=[], validate_choice=True)
    move_agencies = BooleanField(_l("Move its active agencies to the target unit (otherwise they are retired)"),
                                 default=True)
    confirm = BooleanField(_l("Yes, I understand what this does"),
                           validators=[DataRequired(_l("Tick the box to confirm."))])


class AgencyEditForm(OrderedForm):
    ORDER = ("code", "name_vi", "name_en", "kind", "unit")
    name_vi, name_en = _name_fields()
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k, v) for k, v in KIND_LABELS.items()])
    unit = SelectField(_l("Unit"), choices=[], validate_choice=True)


class AgencyCreateForm(AgencyEditForm):
    code = StringField(_l("Code"), validators=[DataRequired(_l("Enter a code.")), _code_format,
                                               _unique(Agency, _l("Another agency already has this code."))])


class ServicePointEditForm(OrderedForm):
    ORDER = ("code", "name_vi", "name_en", "agency")
    name_vi, name_en = _name_fields()
    agency = SelectField(_l("Agency"), choices=[], validate_choice=True)
    kiosk_instrument = StringField(_l("Kiosk questionnaire"), default="counter-quick",
                                   validators=[DataRequired(_l("Enter a questionnaire id.")), _instrument_format])
    link_instrument = StringField(_l("Phone (QR link) questionnaire"), default="sipas-2017",
                                  validators=[DataRequired(_l("Enter a questionnaire id.")), _instrument_format])
    official_on_duty = StringField(_l("Official on duty (optional)"), validators=[Optional(), Length(max=200)])
    opening_hours = StringField(_l("Opening hours (empty: Mon-Fri 07:30-11:30,13:30-17:00)"),
                                validators=[Optional(), Length(max=80), _opening_hours_format],
                                description=_l("Responses outside these hours are an integrity signal."))


class ServicePointCreateForm(ServicePointEditForm):
    code = StringField(_l("Code"), validators=[DataRequired(_l("Enter a code.")), _code_format,
                                               _unique(ServicePoint,
                                                       _l("Another service point already has this code."))])


class ImportForm(FlaskForm):
    file = FileField(_l("Tree file (.yaml, .yml or .csv)"), validators=[FileRequired(_l("Choose a file."))],
                     description=_l("At most 2 MB. YAML anchors and aliases (& and *) are refused: a few hundred "
                                    "bytes of them can expand to millions of entries and stall the server."))


class ImportCommitForm(CommitForm):
    """Confirms a checked tree file: it waits on the server under the form's token (survey/admin/checked_upload.py),
    so what is committed is exactly what was checked, checked again."""
