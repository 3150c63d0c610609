"""Translation catalogue chores, serialised by a lock (several people edit at once).

  python tools/i18n.py refresh            extract messages.pot, update vi/en catalogues, compile .mo
  python tools/i18n.py set FILE.json      set Vietnamese translations {msgid: msgstr}, then compile
  python tools/i18n.py set-km FILE.json   set Khmer translations of citizen-page strings, then compile
  python tools/i18n.py untranslated       list msgids without a Vietnamese translation (exit 1 if any)
  python tools/i18n.py untranslated-km    list citizen-page msgids without a Khmer translation (exit 1 if any)

Khmer (km) exists for citizen pages only (issue 15): its catalogue needs to translate just the strings of
CITIZEN_SOURCES; every other message is compiled from the Vietnamese one, so a gap shows Vietnamese, never
English.  The Khmer texts await a native speaker's review (translations/km/README.md).
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
LOCALES = ("vi", "en", "km")
FALLBACK = {"km": "vi"}  # a Khmer gap is compiled from Vietnamese (staff strings, not-yet-translated ones)
# What a citizen reads (kiosk, phone form, poster, thanks and notice pages): the km catalogue must cover these.
CITIZEN_SOURCES = (
    "templates/respond/_items.html", "templates/respond/_layout.html", "templates/respond/form.html",
    "templates/respond/notice.html", "templates/respond/poster.html", "templates/respond/thanks.html",
    "templates/kiosk/app.html", "respond/kiosk.py", "respond/link.py", "respond/poster_guard.py",
    "respond/answer_messages.py",
)
CITIZEN_EXTRA = ("Skip to content", "Citizen satisfaction", "Main menu", "Language")  # base.html's, on every page


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def _pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def extract(target: Path) -> None:
    _pybabel("extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "--no-location",
             "--sort-output", "--omit-header", "-o", str(target), "survey")


def _read(locale: str) -> Catalog:
    with po_path(locale).open("rb") as fh:
        return read_po(fh, locale=locale)


def compile_all() -> None:
    for locale in LOCALES:
        catalog = _read(locale)
        if locale in FALLBACK:
            base = _read(FALLBACK[locale])
            for message in catalog:
                if message.id and (not _complete(message) or "fuzzy" in message.flags) and message.id in base:
                    message.string = base[message.id].string
                    message.flags.discard("fuzzy")
        with po_path(locale).with_suffix(".mo").open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)


def _complete(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return all(strings)


def citizen_ids() -> set[str]:
    """The msgids of CITIZEN_SOURCES (extracted like `extract`), plus base.html's few on every citizen page."""
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    ids = set(CITIZEN_EXTRA)
    for name in CITIZEN_SOURCES:
        method = "python" if name.endswith(".py") else "jinja2"
        for _line, msg, _comments, _ctx in extract_from_file(method, str(ROOT / "survey" / name), keywords=keywords):
            ids.add(msg if isinstance(msg, str) else msg[0])
    return ids


def untranslated_km() -> list[str]:
    """Citizen-page msgids without a Khmer translation (or fuzzy)."""
    catalog = _read("km")
    return sorted(i for i in citizen_ids() if i not in catalog or not _complete(catalog[i])
                  or "fuzzy" in catalog[i].flags)


def refresh() -> None:
    TRANSLATIONS.mkdir(exist_ok=True)
    extract(POT)
    for locale in LOCALES:
        path = po_path(locale)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _pybabel("init", "-i", str(POT), "-d", str(TRANSLATIONS), "-l", locale)
        else:
            _pybabel("update", "-i", str(POT), "-d", str(TRANSLATIONS), "-l", locale, "--no-fuzzy-matching",
                     "--ignore-obsolete", "--omit-header")
    compile_all()


def set_vi(source: Path, locale: str = "vi") -> None:
    updates: dict[str, str] = json.loads(source.read_text(encoding="utf-8"))
    path = po_path(locale)
    catalog = _read(locale)
    unknown = [k for k in updates if k not in catalog]
    for msgid, msgstr in updates.items():
        if msgid in catalog:
            message = catalog[msgid]
            message.string = msgstr
            message.flags.discard("fuzzy")
    with path.open("wb") as fh:
        write_po(fh, catalog, sort_output=True, omit_header=True, width=0)
    compile_all()
    if unknown:
        print(f"not in the catalogue (run refresh first?): {unknown}", file=sys.stderr)


def untranslated() -> list[str]:
    with po_path("vi").open("rb") as fh:
        catalog = read_po(fh, locale="vi")
    def missing(m: object) -> bool:
        strings = m.string if isinstance(m.string, tuple | list) else (m.string,)
        return not all(strings) or "fuzzy" in m.flags

    return [m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id and missing(m)]


def main(argv: list[str]) -> int:
    lock = open("/tmp/hailong-i18n.lock", "w")  # noqa: SIM115 - held for the whole command
    fcntl.flock(lock, fcntl.LOCK_EX)
    if argv[:1] == ["refresh"]:
        refresh()
    elif argv[:1] == ["set"] and len(argv) == 2:
        set_vi(Path(argv[1]))
    elif argv[:1] == ["set-km"] and len(argv) == 2:
        set_vi(Path(argv[1]), "km")
    elif argv[:1] == ["untranslated-km"]:
        missing = untranslated_km()
        for m in missing:
            print(m)
        return 1 if missing else 0
    elif argv[:1] == ["untranslated"]:
        missing = untranslated()
        for m in missing:
            print(m)
        return 1 if missing else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
