"""Translation catalogue chores, serialised by a lock (several people edit at once).

  python tools/i18n.py refresh            extract messages.pot, update vi/en catalogues, compile .mo
  python tools/i18n.py set FILE.json      set Vietnamese translations {msgid: msgstr}, then compile
  python tools/i18n.py untranslated       list msgids without a Vietnamese translation (exit 1 if any)
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
POT = TRANSLATIONS / "messages.pot"
LOCALES = ("vi", "en")


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def _pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def extract(target: Path) -> None:
    _pybabel("extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "--no-location",
             "--sort-output", "--omit-header", "-o", str(target), "survey")


def compile_all() -> None:
    for locale in LOCALES:
        with po_path(locale).open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        with po_path(locale).with_suffix(".mo").open("wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)


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


def set_vi(source: Path) -> None:
    updates: dict[str, str] = json.loads(source.read_text(encoding="utf-8"))
    path = po_path("vi")
    with path.open("rb") as fh:
        catalog = read_po(fh, locale="vi")
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
