"""The three shipped instruments say what methodology.md §1 says they should."""

from __future__ import annotations

import pytest

from questionnaires import load_shipped, shipped, validate_file

CONFIRMED = [  # methodology.md §1.1, verbatim (an elided "…" is matched on the parts around it)
    ("E2", "Thủ tục hành chính được niêm yết công khai đầy đủ"),
    ("E2", "Thời hạn giải quyết"),
    ("E3", "Công chức có thái độ giao tiếp lịch sự"),
    ("E3", "Công chức trả lời, giải đáp đầy đủ các ý kiến của người dân/đại diện tổ chức"),
    ("E3", "Công chức hướng dẫn kê khai hồ sơ tận tình, chu đáo"),
    ("E3", "Công chức tuân thủ đúng quy định trong giải quyết công việc"),
    ("E5", "có thông báo kết quả xử lý góp ý, phản ánh, kiến nghị kịp thời"),
]


@pytest.mark.parametrize("path", shipped(), ids=lambda p: p.name)
def test_every_shipped_file_validates(path) -> None:  # type: ignore[no-untyped-def]
    assert validate_file(path) == []


def test_sipas_structure() -> None:
    q = load_shipped("sipas-2017")
    assert "2640/QĐ-BNV" in q.basis and q.notes is not None
    sat5 = q.scales["sat5"]
    assert [lv.label.vi for lv in sat5.levels] == [
        "Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"]
    assert sat5.satisfied == {4, 5} and sat5.no_opinion is not None and sat5.no_opinion.vi == "Không ý kiến"
    elements = {el.code: el for el in q.index.elements}
    assert [len(el.items) for el in q.index.elements] == [4, 5, 6, 3, 4]
    assert q.index.combine == "mean"
    criteria = {c: q.item(c) for el in q.index.elements for c in el.items}
    confirmed = set()
    for element, wording in CONFIRMED:
        hits = [c for c in elements[element].items if wording in criteria[c].text.vi]
        assert len(hits) == 1, wording
        confirmed.add(hits[0])
    for it in q.items():  # every wording not quoted from the official text is marked
        assert it.reconstructed == (it.code not in confirmed), it.code
    for el in ("E1", "E2", "E3", "E4", "E5"):
        assert q.item(f"{el}.SAT").type == "scale"
        exp = q.item(f"{el}.EXP")
        assert exp.type == "choice" and exp.multiple and exp.max_choices
    assert q.item("OVERALL.SAT").required
    comment = q.item("COMMENT")
    assert comment.type == "text" and comment.max_length == 2000 and not comment.required


def test_counter_quick_is_short_and_on_the_three_level_scale() -> None:
    q = load_shipped("counter-quick")
    assert "01/2018/TT-VPCP" in q.basis and "03/2025/TT-VPCP" in q.basis
    sat3 = q.scales["sat3"]
    assert [(lv.value, lv.label.vi) for lv in sat3.levels] == [
        (1, "Không hài lòng"), (2, "Hài lòng"), (3, "Rất hài lòng")]
    assert sat3.satisfied == {2, 3}
    assert len(q.items()) <= 7 and len(q.kiosk_items()) <= 7
    assert q.one_question_per_screen
    assert {it.code for it in q.items() if it.required} == {"C.ATT", "C.HANDLING"}
    assert all(it.scale is sat3 for it in q.items() if it.type == "scale")


def test_papi_services_dimensions_and_rescaling() -> None:
    q = load_shipped("papi-services")
    assert q.papi is not None and q.papi.rescaling == "fixed"
    titles = [d.title.en for d in q.papi.dimensions]
    assert titles == ["Public administrative procedures", "Public service delivery", "E-governance"]
    assert all(len(d.subdimensions) >= 2 for d in q.papi.dimensions)
    scales = {q.item(i.item).scale.code for d in q.papi.dimensions for s in d.subdimensions for i in s.indicators}
    assert {"yesno", "sat5"} <= scales
    assert q.notes is not None and "not confirmed" in q.notes.en and "chưa được xác nhận" in q.notes.vi
