"""The vendored Khmer font (issue 15): every Khmer character of the shipped km texts has a glyph in it (no
missing-glyph boxes on an offline kiosk), it is WOFF2 and licensed OFL, and it is small."""

from __future__ import annotations

from pathlib import Path

from fontTools.ttLib import TTFont

from questionnaires.loader import shipped
from questionnaires.validate import _texts, read_file

ROOT = Path(__file__).resolve().parents[2]
FONT = ROOT / "survey" / "static" / "fonts" / "NotoSansKhmer-Regular-subset.woff2"
KM_PO = ROOT / "translations" / "km" / "LC_MESSAGES" / "messages.po"


def _khmer(text: str) -> set[str]:
    return {ch for ch in text if 0x1780 <= ord(ch) <= 0x19FF}


def _shipped_km_texts() -> list[str]:
    out = []
    for path in shipped():
        data, _issues = read_file(path)
        out += [t["km"] for t in _texts(data) if "km" in t]
    if KM_PO.exists():  # the citizen pages' Khmer catalogue
        out += [line for line in KM_PO.read_text(encoding="utf-8").splitlines() if line.startswith("msgstr")]
    for pattern in ("**/*.py", "**/*.html", "**/*.js"):  # Khmer in code: the language button, the poster's lines
        out += [path.read_text(encoding="utf-8") for path in (ROOT / "survey").glob(pattern)]
    return out


def test_every_khmer_character_shipped_has_a_glyph_in_the_vendored_font():
    font = TTFont(str(FONT))
    assert font.flavor == "woff2"
    cmap = font.getBestCmap()
    texts = _shipped_km_texts()
    chars = set().union(*(_khmer(t) for t in texts))
    assert len(chars) > 20  # the km texts exist and are in Khmer script
    missing = sorted(f"U+{ord(c):04X}" for c in chars if ord(c) not in cmap)
    assert not missing, missing


def test_font_is_small_licensed_and_only_loaded_for_khmer():
    assert FONT.stat().st_size < 60_000
    licence = (FONT.parent / "OFL-NotoSansKhmer.txt").read_text(encoding="utf-8")
    assert "SIL Open Font License" in licence and "PERMISSION & CONDITIONS" in licence.upper()
    css = (ROOT / "survey" / "static" / "css" / "km.css").read_text(encoding="utf-8")
    assert "unicode-range: U+1780-17FF" in css and "NotoSansKhmer-Regular-subset.woff2" in css
