"""Locale choice (explicit choice → Accept-Language → vi) and Vietnamese-aware number/date formatting."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal, format_percent
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l

from survey.extensions import babel

LANGUAGES = ("vi", "en")  # staff pages
CITIZEN_LANGUAGES = ("vi", "en", "km")  # citizen pages (kiosk, phone form, poster, notices) and responses
# each language named in its own script, for the language buttons (a Khmer reader must find "ខ្មែរ")
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English", "km": "ខ្មែរ"}
CITIZEN_BLUEPRINTS = frozenset({"link", "kiosk"})
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def page_languages() -> tuple[str, ...]:
    """The languages this request's page exists in: Khmer only on citizen pages (issue 15), staff pages vi/en."""
    citizen = has_request_context() and request.blueprint in CITIZEN_BLUEPRINTS
    return CITIZEN_LANGUAGES if citizen else LANGUAGES


def select_locale() -> str:
    """The explicit choice, else Accept-Language, else vi; a choice this page lacks (km on a staff page) → vi."""
    offered = page_languages()
    chosen = session.get("lang") or request.cookies.get("hl_lang")
    if chosen in CITIZEN_LANGUAGES:
        return chosen if chosen in offered else "vi"
    best = request.accept_languages.best_match(offered)
    return best or "vi"


def current_lang() -> str:
    loc = get_locale()
    return loc.language if loc is not None and loc.language in CITIZEN_LANGUAGES else "vi"


_SEPARATORS: dict[str, dict[int, str] | None] = {"vi": str.maketrans({",": ".", ".": ","}), "en": None}


def fixed(value: float, digits: int, lang: str, *, as_percent: bool = False) -> str:
    """Babel's "#,##0.00" (and "#,##0.00%") output for vi and en, ≈ 20× faster: a Home Affairs page formats
    thousands of numbers, and Babel's pattern machinery cost more than the statistics.  Same rounding as
    Babel (the float's shortest decimal form, half to even); other languages, and the signed-zero case,
    go to Babel itself (tests/test_i18n_numbers.py compares the two)."""
    if lang not in _SEPARATORS or not math.isfinite(float(value)):  # other languages, ∞: Babel's own output
        return _babel(value, digits, lang, as_percent)
    d = Decimal(repr(float(value)))
    if as_percent:
        d = d.scaleb(2)
    q = d.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN)
    if q.is_zero() and q.is_signed():
        return _babel(value, digits, lang, as_percent)
    text = f"{q:,.{digits}f}"
    table = _SEPARATORS[lang]
    if table is not None:
        text = text.translate(table)
    return text + "%" if as_percent else text


def _babel(value: float, digits: int, lang: str, as_percent: bool) -> str:
    fmt = "#,##0." + "0" * digits if digits else "#,##0"
    if as_percent:
        return format_percent(value, format=fmt + "%", locale=lang)
    return format_decimal(value, format=fmt, locale=lang)


def percent(value: float | None, digits: int = 2) -> str:
    """0.8497 → '84,97%' (vi) / '84.97%' (en); None/NaN → '—'."""
    if value is None or value != value:
        return "—"
    return fixed(value, digits, current_lang(), as_percent=True)


def number(value: float | None, digits: int = 2) -> str:
    if value is None or value != value:
        return "—"
    return fixed(value, digits, current_lang())


def points(value: float | None, digits: int = 1, lang: str | None = None) -> str:
    """A difference of two shares in percentage points, signed: 0.053 → '+5,3 điểm %' (vi) / '+5.3 pp' (en).
    Not '5,3%': a change from 80% to 85% is 5 points, which is not 5 percent of 80%."""
    text = signed_points(value, digits, lang)
    return text if text == "—" else f"{text}\u00a0{points_unit()}"


def points_range(low: float | None, high: float | None, digits: int = 1, lang: str | None = None) -> str:
    """The interval of a difference of shares: '-2,1 – +6,3 điểm %' (the unit once)."""
    lo, hi = signed_points(low, digits, lang), signed_points(high, digits, lang)
    if "—" in (lo, hi):
        return "—"
    return f"{lo} – {hi}\u00a0{points_unit()}"


def points_unit() -> str:
    """'pp' (en) / 'điểm %' (vi): percentage points."""
    return gettext("pp")


def signed_points(value: float | None, digits: int = 1, lang: str | None = None) -> str:
    """100 × value with an explicit sign ('+5,3', '-0,4', '0,0'); None/NaN → '—'."""
    if value is None or value != value:
        return "—"
    scaled = round(float(value) * 100, digits)
    body = fixed(abs(scaled), digits, lang or current_lang())
    return body if scaled == 0 else ("+" if scaled > 0 else "-") + body


def local_datetime(value: datetime | None, with_time: bool = True) -> str:
    """UTC datetime shown in Asia/Ho_Chi_Minh: 12/07/2022 10:15 (vi) or 07/12/2022 (en uses d/m too: VN audience)."""
    if value is None:
        return "—"
    local = value.astimezone(LOCAL_TZ)
    return local.strftime("%d/%m/%Y %H:%M") if with_time else local.strftime("%d/%m/%Y")


def local_date(value: date | None) -> str:
    return "—" if value is None else value.strftime("%d/%m/%Y")


CHANNEL_LABELS = {
    "kiosk": _l("Kiosk at the counter"),
    "qr": _l("QR link (phone)"),
    "web": _l("Web"),
    "paper": _l("Paper form"),
}


def channel_label(code: str) -> str:
    """How a response channel is named to staff (filters, tables); unknown codes shown as they are."""
    label = CHANNEL_LABELS.get(code)
    return str(label) if label is not None else code


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Asia/Ho_Chi_Minh")
    app.jinja_env.filters["percent"] = percent
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["points"] = points
    app.jinja_env.filters["localdt"] = local_datetime
    app.jinja_env.filters["localdate"] = local_date
    app.jinja_env.filters["channel"] = channel_label

    @app.context_processor
    def _lang() -> dict[str, object]:
        return {"lang": current_lang(), "languages": page_languages(), "language_names": LANGUAGE_NAMES,
                "config_n_min": current_app.config["HAILONG_N_MIN"]}
