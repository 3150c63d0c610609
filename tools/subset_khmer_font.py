"""Vendor the Khmer web font: subset Debian's Noto Sans Khmer (fonts-noto-core, SIL OFL 1.1) to the Khmer
blocks and write WOFF2 into survey/static/fonts/ — kiosks have no internet, and pages may use no CDN.

    .venv/bin/python tools/subset_khmer_font.py [--source /usr/share/fonts/truetype/noto/NotoSansKhmer-Regular.ttf]

The page loads it only for Khmer (survey/static/css/km.css, unicode-range), so vi/en pages never fetch it.
All OpenType layout features are kept: Khmer needs them to stack subscript consonants and place vowels.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fontTools import subset

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("/usr/share/fonts/truetype/noto/NotoSansKhmer-Regular.ttf")
OUT = ROOT / "survey" / "static" / "fonts" / "NotoSansKhmer-Regular-subset.woff2"
#: Khmer, Khmer Symbols, zero-width (non-)joiners/space and the dotted circle used for stray marks
UNICODES = [*range(0x1780, 0x1800), *range(0x19E0, 0x1A00), 0x200B, 0x200C, 0x200D, 0x25CC]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument("--output", type=Path, default=OUT)
    args = ap.parse_args(argv)
    options = subset.Options()
    options.layout_features = ["*"]
    options.flavor = "woff2"
    options.name_IDs = ["*"]  # keep the copyright and licence records (OFL)
    options.notdef_outline = True
    font = subset.load_font(str(args.source), options)
    sub = subset.Subsetter(options)
    sub.populate(unicodes=UNICODES)
    sub.subset(font)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    subset.save_font(font, str(args.output), options)
    print(f"wrote {args.output} ({args.output.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
