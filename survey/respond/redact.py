"""Remove contact and identity numbers from a citizen's comment before it is stored (issue 11 §5).

A comment is read by the agency it criticises.  Citizens sometimes write "call me on 0901 234 567" or their
citizen-ID number; stored as written, that ties a complaint to a person.  Only the redacted text is ever
stored (there is no original to leak), and the form tells the citizen so.

What is removed (each replaced by `MARK`):
- e-mail addresses;
- ID numbers: 9 digits (old CMND) or 12 digits (CCCD) written together;
- phone numbers: 0, 84 or +84 followed by 8–10 more digits, with spaces, dots or dashes between groups
  (mobile 0901 234 567, landline (0292) 3 821 234, +84 901 234 567).
Before that, text-direction marks (a right-to-left override draws the rest of the line backwards, on the
comment page and in a spreadsheet cell) are removed, and so are zero-width characters between two digits (they
would hide "0901\u200b234\u200b567" from the phone pattern); zero-width spaces elsewhere stay (Khmer
separates words with them).
Amounts such as "150.000.000 đồng" or dates are left alone: they do not start like a phone number and are
not 9/12 digits written together.
"""

from __future__ import annotations

import re

MARK = "[***]"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_ID = re.compile(r"(?<![\d\w])(?:\d{12}|\d{9})(?![\d\w])")
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ZERO_WIDTH_IN_NUMBER = re.compile(r"(?<=\d)[\u200b-\u200d\u2060\ufeff]+(?=\d)")
_PHONE = re.compile(r"(?<![\w+(])\(?(?:\+\s?84|84|0)(?:[\s.\-)]{0,2}\d){8,10}(?!\d)")


def redact(text: str) -> str:
    """`text` with e-mail addresses, 9/12-digit ID numbers and phone numbers replaced by MARK."""
    text = _ZERO_WIDTH_IN_NUMBER.sub("", _BIDI.sub("", text))
    text = _EMAIL.sub(MARK, text)
    text = _ID.sub(MARK, text)
    return _PHONE.sub(MARK, text)
