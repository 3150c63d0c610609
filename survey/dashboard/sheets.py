"""XLSX sheet names in the reader's language: a Vietnamese user opening a workbook sees "Ước lượng", not
"estimates".  Excel limits names to 31 characters, forbids []:*?/\\ and compares them case-insensitively."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: table id → short sheet title (the table's own caption is too long for a tab)
SHEET_LABELS = {
    "estimates": _l("Estimates"),
    "ranks": _l("Ranks"),
    "change": _l("Change"),
    "funnel": _l("Funnel plot"),
    "trend": _l("Trend"),
    "summary": _l("Summary"),
    "indices": _l("Indices"),
    "items": _l("Item indices"),
    "comparison": _l("Comparison"),
    "distribution": _l("Answers"),
    "expectations": _l("Wanted improvements"),
    "agencies": _l("Agencies"),
    "coverage": _l("Response rate"),
    "languages": _l("Languages"),
    "topics": _l("Comment topics"),
    "topics_trend": _l("Topics by period"),
    "topics_share": _l("Topic shares by period"),
    "topic_shares": _l("Topic shares"),
    "topic_rises": _l("Rising topics"),
}
FORBIDDEN = "[]:*?/\\"
LIMIT = 31


def sheet_label(table_id: str) -> str:
    """The translated tab title of a table id (unknown ids as they are)."""
    label = SHEET_LABELS.get(table_id)
    return table_id if label is None else str(label)


def sheet_name(text: str, used: set[str]) -> str:
    """A valid, unique sheet name for `text` ('Xã/Phường' → 'Xã-Phường'); `used` holds the lower-cased
    names already taken and is updated."""
    clean = "".join("-" if ch in FORBIDDEN else ch for ch in text).strip().strip("'").strip() or "sheet"
    name = clean[:LIMIT].rstrip()
    k = 2
    while name.lower() in used:
        suffix = f" ({k})"
        name = clean[:LIMIT - len(suffix)].rstrip() + suffix
        k += 1
    used.add(name.lower())
    return name
