"""The demo's citizens' comments, each with the topics it is written about (issue 15), so that the topic table
on the demo's agency pages shows something true to check against.  Written for the demo (no real citizen's
comment); praise and waiting appear more often, as at real counters.  tests/demo/test_demo_comments.py checks
that the classifier (analysis/topics.py) finds exactly these topics."""

from __future__ import annotations

#: (text, topics) — a comment may have several topics or none
DEMO_COMMENTS: tuple[tuple[str, frozenset[str]], ...] = tuple((text, frozenset(topics)) for text, topics in (
    ("Cán bộ hướng dẫn nhiệt tình, chu đáo.", {"praise"}),
    ("Thời gian chờ đợi hơi lâu, cần thêm ghế ngồi.", {"waiting", "facilities"}),
    ("Thủ tục nhanh gọn, đúng hẹn.", {"praise"}),
    ("Nên niêm yết phí, lệ phí rõ ràng hơn.", {"fees", "guidance"}),
    ("Đề nghị bổ sung chỗ để xe cho người dân.", {"facilities"}),
    ("Hồ sơ bị trả lại nhiều lần, cần hướng dẫn một lần đầy đủ.", {"paperwork", "guidance"}),
    ("Very helpful staff, thank you.", {"praise"}),
    ("Rất hài lòng, cảm ơn các anh chị.", {"praise"}),
    ("Không phải chờ lâu, nhân viên làm việc nhanh.", {"praise"}),
    ("Hẹn trả kết quả 5 ngày mà 2 tuần chưa có.", {"waiting"}),
    ("Xếp hàng từ sáng đến trưa mới tới lượt.", {"waiting"}),
    ("Giải quyết hồ sơ quá chậm, trễ hẹn nhiều lần.", {"waiting"}),
    ("Cán bộ tiếp dân thái độ cáu gắt, nói trống không.", {"attitude"}),
    ("Cán bộ vừa làm vừa bấm điện thoại, hỏi mãi không trả lời.", {"attitude"}),
    ("Phải đưa thêm tiền cà phê thì hồ sơ mới được giải quyết.", {"attitude", "fees"}),  # unofficial money
    ("Thủ tục rườm rà quá, yêu cầu nhiều giấy tờ không cần thiết.", {"paperwork"}),
    ("Không biết nộp hồ sơ ở quầy nào, không có ai chỉ.", {"guidance"}),
    ("Phòng chờ nóng quá, máy lạnh hỏng mà không sửa.", {"facilities"}),
    ("Cổng dịch vụ công trực tuyến hay bị lỗi, không nộp được hồ sơ.", {"online"}),
    ("Nộp hồ sơ trực tuyến rồi vẫn phải lên nộp bản giấy.", {"online", "paperwork"}),  # labelling note, topics round 1
    ("Cán bộ nhiệt tình nhưng chờ lâu quá.", {"praise", "waiting"}),
    ("Chị cán bộ rất dễ thương, giải thích tận tình.", {"praise"}),
    ("Cảm ơn bộ phận một cửa, làm việc rất nhanh.", {"praise"}),
    ("cho lau qua, hen hoai khong co", {"waiting"}),
    ("Không có ý kiến.", set()),
))
