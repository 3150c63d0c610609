"""Period names people read ("Quý IV/2022", "Tháng 11/2022", "Năm 2022"), file names carrying them, and
the clock that says which periods are complete.

Period *labels* (2022-Q4, 2022-11, 2022) stay the machine keys (URLs, analysis domains); every page, chart,
export header, PDF title and download name shows the *name*.  The clock is injectable
(`app.config["HAILONG_CLOCK"]`, a callable returning an aware datetime) so that no test depends on today.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from urllib.parse import quote

from flask_babel import gettext as _

from survey.database import utcnow

LABEL_RE = re.compile(r"^(\d{4})(?:-(Q[1-4]|\d{2}))?$")
ROMAN = ("I", "II", "III", "IV")


def period_name(label: str) -> str:
    """2022-Q4 → 'Quý IV/2022', 2022-11 → 'Tháng 11/2022', 2022 → 'Năm 2022' (in the page language);
    anything else is returned unchanged."""
    m = LABEL_RE.match(str(label).strip())
    if not m:
        return str(label)
    year, part = m.group(1), m.group(2)
    if part is None:
        return _("Year %(year)s", year=year)
    if part.startswith("Q"):
        return _("Quarter %(quarter)s/%(year)s", quarter=ROMAN[int(part[1]) - 1], year=year)
    return _("Month %(month)s/%(year)s", month=int(part), year=year)


def period_start(label: str) -> date | None:
    """First day of the period a label names (None for anything else): puts trend points on a time axis."""
    m = LABEL_RE.match(str(label).strip())
    if not m:
        return None
    year, part = int(m.group(1)), m.group(2)
    if part is None:
        return date(year, 1, 1)
    if part.startswith("Q"):
        return date(year, 3 * int(part[1]) - 2, 1)
    month = int(part)
    return date(year, month, 1) if 1 <= month <= 12 else None


def attachment(stem: str, ext: str) -> str:
    """A Content-Disposition value whose file name carries Vietnamese text (RFC 6266/5987: an ASCII
    fallback for old clients, the UTF-8 name for everyone else); '/' (as in 'Quý IV/2022') becomes '-'."""
    name = f"{stem}.{ext}".replace("/", "-").replace("\\", "-").replace(" ", "-")
    ascii_name = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    ascii_name = "".join(c for c in ascii_name if c.isascii() and (c.isalnum() or c in "-_.")) or f"export.{ext}"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def now() -> datetime:
    """The current time (aware UTC): the app's one clock, `survey.database.utcnow`."""
    return utcnow()


def month_start(moment: datetime) -> date:
    """The first day of the month `moment` falls in, in Vietnam's time zone (periods are local months)."""
    from survey.i18n import LOCAL_TZ

    local = moment.astimezone(LOCAL_TZ)
    return date(local.year, local.month, 1)
