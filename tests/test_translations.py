"""The Vietnamese catalogue is complete and the template is fresh: a new string without translation fails."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import i18n  # noqa: E402


def _key(value):
    """Plural entries are tuples in .po catalogues and lists or tuples in .mo ones: compare them alike."""
    return tuple(value) if isinstance(value, list | tuple) else value


def _ids(path: Path) -> set[str]:
    with path.open("rb") as fh:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}


def test_messages_pot_is_fresh(tmp_path):
    fresh = tmp_path / "fresh.pot"
    i18n.extract(fresh)
    assert _ids(fresh) == _ids(i18n.POT), "messages.pot is stale: run python tools/i18n.py refresh"


def test_every_message_has_a_vietnamese_translation():
    assert i18n.untranslated() == [], "untranslated: run python tools/i18n.py untranslated"


def test_catalogues_cover_the_template():
    for locale in i18n.LOCALES:
        assert _ids(i18n.po_path(locale)) == _ids(i18n.POT), f"{locale} catalogue not updated from messages.pot"


def test_compiled_catalogue_matches_the_po_file():
    def entries(messages):
        return {_key(m.id): _key(m.string) for m in messages if m.id}

    with i18n.po_path("vi").open("rb") as fh:
        po = entries(read_po(fh, locale="vi"))  # Vietnamese has one plural form, as the .mo holds
    with i18n.po_path("vi").with_suffix(".mo").open("rb") as fh:
        mo = entries(read_mo(fh))
    assert mo == po, "messages.mo is out of date: run python tools/i18n.py refresh"


def test_khmer_catalogue_covers_the_citizen_pages_and_falls_back_to_vietnamese():
    """km (issue 15) must translate what citizens read; any other message shows the Vietnamese text, not English."""
    assert i18n.untranslated_km() == [], "run python tools/i18n.py untranslated-km"

    def strings(path: Path) -> dict:
        with path.open("rb") as fh:
            messages = read_mo(fh) if path.suffix == ".mo" else read_po(fh)
            return {_key(m.id): _key(m.string) for m in messages if m.id}

    vi = strings(i18n.po_path("vi"))
    km_po = strings(i18n.po_path("km"))
    km_mo = strings(i18n.po_path("km").with_suffix(".mo"))
    gaps = [i for i, s in km_po.items() if not s and vi.get(i)]  # staff strings: no Khmer text
    assert gaps and all(km_mo[i] == vi[i] for i in gaps), "messages.mo is out of date: run python tools/i18n.py refresh"
    assert km_mo["Start"] == km_po["Start"] == "ចាប់ផ្តើម" != vi["Start"]
