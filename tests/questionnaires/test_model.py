"""The loaded model: display order, look-ups, texts, checksums, shipped files and import isolation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import questionnaires.loader as loader
from questionnaires import Text, checksum, load_dict, load_shipped, text
from questionnaires.model import iter_texts

Factory = Callable[[], dict[str, Any]]


def _reverse_keys(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _reverse_keys(x[k]) for k in reversed(list(x))}
    if isinstance(x, list):
        return [_reverse_keys(v) for v in x]
    return x


def test_items_in_display_order_and_lookups(tiny: Factory) -> None:
    q = load_dict(tiny())
    assert [it.code for it in q.items()] == ["A1", "A2", "A.EXP", "B1", "B.KIND", "COMMENT"]
    assert [it.code for it in q.scored_items()] == ["A1", "A2", "B1", "B.KIND"]
    assert [it.code for it in q.kiosk_items()] == ["B1", "A1"]
    assert q.one_question_per_screen
    assert q.item("B1").scale is q.scales["s3"] and q.item("B1").section == "B"
    assert q.item("A1").offers_no_opinion and not q.item("B1").offers_no_opinion
    with pytest.raises(KeyError):
        q.item("nope")


def test_kiosk_items_default_to_all_items(tiny: Factory) -> None:
    d = tiny()
    del d["kiosk"]
    q = load_dict(d)
    assert q.kiosk_items() == q.items() and not q.one_question_per_screen


def test_texts_in_both_languages(tiny: Factory) -> None:
    q = load_dict(tiny())
    b1 = q.item("B1")
    assert q.text(b1, "vi") == "Câu B1" and q.text(b1, "en") == "Question B1"
    assert text(b1.scale.level(3), "vi") == "Rất hài lòng"
    assert text(q.sections[0], "en") == "Part A"
    assert q.text(q.title, "fr") == "Phiếu thử"  # unknown language falls back to Vietnamese
    assert q.title["en"] == "Test form"
    assert Text.of({"vi": "a", "en": "b", "fr": "c"}).get("fr") == "c"


def test_checksum_ignores_key_order_and_sees_text_changes(tiny: Factory) -> None:
    a = load_dict(tiny())
    b = load_dict(_reverse_keys(tiny()))
    assert list(_reverse_keys(tiny())) != list(tiny())
    assert a.checksum() == b.checksum() == checksum(tiny())
    changed = tiny()
    changed["sections"][0]["items"][0]["text"]["vi"] = "Câu A1 (sửa)"
    assert load_dict(changed).checksum() != a.checksum()


def test_definition_is_the_raw_dict_and_cannot_be_altered(tiny: Factory) -> None:
    q = load_dict(tiny())
    assert q.definition == tiny()
    before = q.checksum()
    q.definition["version"] = 99
    assert q.definition["version"] == 1 and q.checksum() == before
    assert load_dict(q.definition).checksum() == before


def test_shipped_files_load_and_match_their_names() -> None:
    paths = loader.shipped()
    assert {p.name for p in paths} >= {"sipas-2017-v1.json", "counter-quick-v1.json", "papi-services-v1.json"}
    for p in paths:
        q = loader.load_file(p)
        assert p.name == f"{q.id}-v{q.version}.json"


def test_load_shipped_picks_latest_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = loader.INSTRUMENTS_DIR / "counter-quick-v1.json"
    shutil.copy(src, tmp_path / "counter-quick-v1.json")
    d = json.loads(src.read_text(encoding="utf-8"))
    d["version"] = 2
    (tmp_path / "counter-quick-v2.json").write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(loader, "INSTRUMENTS_DIR", tmp_path)
    assert loader.load_shipped("counter-quick").version == 2
    assert loader.load_shipped("counter-quick", 1).version == 1
    with pytest.raises(KeyError):
        loader.load_shipped("counter-quick", 3)
    with pytest.raises(KeyError):
        loader.load_shipped("sipas-2017")


def test_package_imports_without_flask_or_pandas() -> None:
    code = ("import sys, questionnaires; questionnaires.load_shipped('sipas-2017').index_spec(); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'pandas', 'survey', 'analysis')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_shipped_vietnamese_texts_have_diacritics() -> None:
    """Guards against unaccented Vietnamese (e.g. "Khong hai long") slipping into a shipped file."""
    for id in ("sipas-2017", "counter-quick", "papi-services"):
        q = load_shipped(id)
        for where, t in iter_texts(q):
            assert t.vi.strip() and t.en.strip(), (id, where)
            if len(t.vi.split()) >= 2:
                assert any(ord(c) > 127 for c in t.vi), (id, where, t.vi)
