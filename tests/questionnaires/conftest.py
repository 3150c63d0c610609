"""A tiny questionnaire definition that tests mutate into broken or special variants."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest


def T(vi: str, en: str) -> dict[str, str]:
    return {"vi": vi, "en": en}


TINY: dict[str, Any] = {
    "id": "tiny",
    "version": 1,
    "title": T("Phiếu thử", "Test form"),
    "description": T("Phiếu nhỏ dùng để kiểm thử", "A small form for tests"),
    "basis": "test",
    "scales": {
        "s5": {
            "levels": [
                {"value": 1, "label": T("Rất không hài lòng", "Very dissatisfied")},
                {"value": 2, "label": T("Không hài lòng", "Dissatisfied")},
                {"value": 3, "label": T("Bình thường", "Neutral")},
                {"value": 4, "label": T("Hài lòng", "Satisfied")},
                {"value": 5, "label": T("Rất hài lòng", "Very satisfied")},
            ],
            "satisfied": [4, 5],
            "no_opinion": T("Không ý kiến", "No opinion"),
        },
        "s3": {
            "levels": [
                {"value": 1, "label": T("Không hài lòng", "Dissatisfied")},
                {"value": 2, "label": T("Hài lòng", "Satisfied")},
                {"value": 3, "label": T("Rất hài lòng", "Very satisfied")},
            ],
            "satisfied": [2, 3],
        },
    },
    "sections": [
        {
            "code": "A",
            "title": T("Phần A", "Part A"),
            "items": [
                {"code": "A1", "type": "scale", "scale": "s5", "text": T("Câu A1", "Question A1")},
                {"code": "A2", "type": "scale", "scale": "s5", "text": T("Câu A2", "Question A2")},
                {"code": "A.EXP", "type": "choice", "multiple": True, "max_choices": 2,
                 "text": T("Cần cải thiện gì?", "What to improve?"),
                 "options": [{"value": 1, "label": T("Một", "One")}, {"value": 2, "label": T("Hai", "Two")},
                             {"value": 3, "label": T("Ba", "Three")}]},
            ],
        },
        {
            "code": "B",
            "title": T("Phần B", "Part B"),
            "items": [
                {"code": "B1", "type": "scale", "scale": "s3", "text": T("Câu B1", "Question B1"),
                 "required": True},
                {"code": "B.KIND", "type": "choice", "text": T("Loại thủ tục", "Kind of procedure"),
                 "options": [{"value": 1, "label": T("Đất đai", "Land")}, {"value": 2, "label": T("Hộ tịch",
                                                                                                   "Civil status")}]},
                {"code": "COMMENT", "type": "text", "max_length": 20, "text": T("Góp ý", "Comments")},
            ],
        },
    ],
    "index": {
        "method": "top2box",
        "elements": [
            {"code": "EA", "title": T("Yếu tố A", "Element A"), "items": ["A1", "A2"]},
            {"code": "EB", "title": T("Yếu tố B", "Element B"), "items": ["B1"]},
        ],
        "overall": {"combine": "mean"},
    },
    "papi": {
        "rescaling": "fixed",
        "dimensions": [
            {"code": "D1", "title": T("Chiều 1", "Dimension 1"), "subdimensions": [
                {"code": "D1.1", "title": T("Thành phần 1", "Sub 1"),
                 "indicators": [{"item": "A1", "score": "satisfied"}, {"item": "A2", "score": "mean"}]},
                {"code": "D1.2", "title": T("Thành phần 2", "Sub 2"),
                 "indicators": [{"item": "B1", "score": "mean"}]},
            ]},
        ],
    },
    "kiosk": {"one_question_per_screen": True, "items": ["B1", "A1"]},
}


@pytest.fixture
def tiny() -> Callable[[], dict[str, Any]]:
    """A factory: each call returns a fresh deep copy of the tiny definition."""
    return lambda: copy.deepcopy(TINY)
