"""Questionnaire texts in more languages than vi/en (issue 15): vi required, others optional and shown in
Vietnamese when missing (never blank); `validate` says which languages a version covers; counter-quick v3
carries Khmer marked as needing a native speaker's review."""

from __future__ import annotations

import copy
import json

from questionnaires.loader import load_dict, load_shipped
from questionnaires.validate import coverage_line, language_coverage, validate_dict

KHMER = range(0x1780, 0x1800)


def _v3() -> dict:
    return load_shipped("counter-quick", 3).definition


def test_counter_quick_v3_has_khmer_for_every_citizen_text_and_is_marked_for_review():
    q = load_shipped("counter-quick", 3)
    assert "km" in q.definition["translations_to_review"]
    texts = [q.title.get("km")] + [it.text.get("km") for it in q.items()]
    texts += [it.help.get("km") for it in q.items() if it.help]
    texts += [lv.label.get("km") for it in q.items() if it.scale for lv in it.scale.levels]
    for t in texts:
        assert t.strip() and any(ord(ch) in KHMER for ch in t), t


def test_coverage_says_which_languages_a_version_covers(capsys):
    assert coverage_line(load_shipped("counter-quick", 2).definition) == "languages: vi, en"
    cov = language_coverage(_v3())
    assert cov["vi"][0] == cov["vi"][1] and cov["en"][0] == cov["en"][1]
    assert 0 < cov["km"][0] < cov["km"][1]  # staff-facing texts (description, index) stay vi/en
    assert "km (" in coverage_line(_v3()) and "others shown in vi" in coverage_line(_v3())
    from questionnaires.__main__ import main

    assert main(["validate", "questionnaires/instruments/counter-quick-v3.json"]) == 0
    assert "languages: vi, en, km" in capsys.readouterr().err


def test_a_missing_language_falls_back_to_vietnamese_never_blank():
    d = copy.deepcopy(_v3())
    d["version"] = 99
    item = d["sections"][0]["items"][0]
    del item["text"]["en"], item["text"]["km"]
    assert validate_dict(d) == []
    it = load_dict(d).items()[0]
    assert it.text.get("km") == it.text.get("en") == item["text"]["vi"]


def test_vietnamese_is_required_and_a_blank_text_is_refused():
    d = copy.deepcopy(_v3())
    del d["sections"][0]["items"][0]["text"]["vi"]
    assert any("vi" in str(i) for i in validate_dict(d))
    d = copy.deepcopy(_v3())
    d["sections"][0]["items"][0]["text"]["km"] = "  "
    assert validate_dict(d)


def test_a_file_without_english_loads():
    d = copy.deepcopy(_v3())
    d["version"] = 98
    for sec in d["sections"]:
        for it in sec["items"]:
            it["text"].pop("en")
    q = load_dict(json.loads(json.dumps(d)))
    assert all(it.text.get("en") == it.text.get("vi") for it in q.items())
