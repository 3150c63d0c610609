"""The base of every form: WTForms' and Flask-WTF's own messages in the user's language.

WTForms ships no Vietnamese catalogue, so "This field is required." appeared in English on Vietnamese
pages.  `FlaskForm` here is a drop-in for `flask_wtf.FlaskForm` whose translations come from our own
catalogue (translations/), where the library's messages are listed below so extraction picks them up.
Import it instead of Flask-WTF's (tests/auth/test_form_messages.py checks every form does).
"""

from __future__ import annotations

from typing import Any

from flask_babel import get_translations
from flask_babel import gettext as _gettext
from flask_wtf import FlaskForm as _FlaskWTFForm


def N_(message: str) -> str:  # the gettext "mark only" convention, extracted by Babel
    return message


def ngettext(singular: str, plural: str, n: int) -> tuple[str, str]:
    """Mark a plural message for extraction only (WTForms calls the real ngettext)."""
    return singular, plural


# The messages WTForms 3 and Flask-WTF produce themselves (validators, fields, CSRF, file uploads).
LIBRARY_MESSAGES = (
    N_("This field is required."),
    N_("Invalid input."),
    N_("Field must be equal to %(other_name)s."),
    N_("Field must be between %(min)d and %(max)d characters long."),
    N_("Number must be at least %(min)s."),
    N_("Number must be at most %(max)s."),
    N_("Number must be between %(min)s and %(max)s."),
    N_("Date must be at least %(min)s."),
    N_("Date must be at most %(max)s."),
    N_("Date must be between %(min)s and %(max)s."),
    N_("Invalid email address."),
    N_("Invalid IP address."),
    N_("Invalid Mac address."),
    N_("Invalid URL."),
    N_("Invalid UUID."),
    N_("Invalid value, must be one of: %(values)s."),
    N_("Invalid value, can't be any of: %(values)s."),
    N_("This field cannot be edited."),
    N_("This field is disabled and cannot have a value."),
    N_("Invalid Choice: could not coerce."),
    N_("Choices cannot be None."),
    N_("Not a valid choice."),
    N_("Invalid choice(s): one or more data inputs could not be coerced."),
    N_("Not a valid datetime value."),
    N_("Not a valid date value."),
    N_("Not a valid time value."),
    N_("Not a valid week value."),
    N_("Not a valid integer value."),
    N_("Not a valid decimal value."),
    N_("Not a valid float value."),
    N_("File does not have an approved extension."),
    # Flask-WTF's CSRF check raises these untranslated; FlaskForm.validate translates them.
    N_("The CSRF token is missing."),
    N_("The CSRF session token is missing."),
    N_("The CSRF token has expired."),
    N_("The CSRF token is invalid."),
    N_("The CSRF tokens do not match."),
)
LIBRARY_PLURALS = (
    ngettext("Field must be at least %(min)d character long.",
             "Field must be at least %(min)d characters long.", 1),
    ngettext("Field cannot be longer than %(max)d character.",
             "Field cannot be longer than %(max)d characters.", 1),
    ngettext("Field must be exactly %(max)d character long.",
             "Field must be exactly %(max)d characters long.", 1),
    ngettext("'%(value)s' is not a valid choice for this field.",
             "'%(value)s' are not valid choices for this field.", 1),
)


class _CatalogueTranslations:
    """What WTForms asks of `Meta.get_translations`: gettext/ngettext without interpolation (WTForms
    interpolates itself), answered from the request's Babel catalogue."""

    def gettext(self, string: str) -> str:
        return get_translations().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ungettext(singular, plural, n)


_TRANSLATIONS = _CatalogueTranslations()


class FlaskForm(_FlaskWTFForm):
    """Flask-WTF's form with every library message translated."""

    class Meta(_FlaskWTFForm.Meta):
        def get_translations(self, form: Any) -> _CatalogueTranslations:
            return _TRANSLATIONS

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        csrf = getattr(self, "csrf_token", None)
        if csrf is not None and csrf.errors:
            csrf.errors = [_gettext(str(e)) for e in csrf.errors]
        return ok
