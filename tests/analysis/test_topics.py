"""Comment topics (analysis/topics.py): folding, negation, the longest-phrase rule, the lexicon file format and
the held-out precision/recall goal of issue 15 (figures in benchmarks/README.md)."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from pathlib import Path

import pytest
import yaml

from analysis import topics_learn
from analysis.topics import (
    DEFAULT_LEXICON,
    LexiconError,
    classify,
    evaluate,
    load_lexicon,
    parse_lexicon,
    read_labelled,
)

# The rounds come from ONE place, analysis/topics_learn.py: every round before HELD_OUT_ROUNDS is learned from; the
# held-out rounds (independent writers, measured once, pooled, after the classifier froze) are HELD_OUT_ROUNDS.
TUNE = topics_learn.LEARNED_ROUNDS
HELD_OUT = topics_learn.HELD_OUT
needs_held_out = pytest.mark.skipif(not all(f.exists() for f in HELD_OUT),
                                    reason=f"rounds {topics_learn.HELD_OUT_ROUNDS} not all written yet")


def _held_out() -> list[tuple[str, frozenset[str]]]:
    """The held-out rounds pooled (one set of ≈ 1,000 comments, so a topic's 95% interval is about ±0.06)."""
    return [row for f in HELD_OUT for row in read_labelled(f)]
LEX = load_lexicon()
RULES = dataclasses.replace(LEX, learned=None)  # the lexicon rules alone (what the rule tests are about)


@pytest.mark.parametrize("text", ["Chờ lâu quá", "CHỜ LÂU QUÁ", "cho lau qua", "Cho Lau Qua"])
def test_accented_and_unaccented_spellings_match(text):
    assert classify(text, LEX) == {"waiting"}


def test_accents_are_respected_when_the_text_has_them():
    # "chỗ để xe" (parking) is not "chờ" (waiting) when written with accents
    assert classify("Đề nghị bổ sung chỗ để xe", LEX) == {"facilities"}


@pytest.mark.parametrize("text", ["Không chờ lâu.", "Không phải chờ lâu.", "khong phai cho lau"])
def test_negated_complaint_is_not_a_complaint(text):
    assert "waiting" not in classify(text, LEX)


def test_negated_praise_counts_for_the_named_topic():
    assert classify("Cán bộ không nhiệt tình", LEX) == {"attitude"}
    assert classify("Cán bộ nhiệt tình", LEX) == {"praise"}


def test_subject_words_do_not_count_in_a_praising_clause():
    assert classify("Thái độ phục vụ rất tốt", LEX) == {"praise"}
    assert classify("Thái độ không tốt, cần chấn chỉnh", LEX) == {"attitude"}


def test_opening_hours_are_not_praise():
    # "đúng giờ hành chính" says when the office is open (a portal "bảo trì đúng giờ hành chính" is a complaint about
    # the portal); "đúng giờ" alone is punctuality, praise
    for lex in (LEX, RULES):
        assert classify("Cổng dịch vụ công hay bảo trì đúng giờ hành chính", lex) == {"online"}
    assert classify("Làm việc đúng giờ hành chính", RULES) == frozenset()
    assert classify("Cán bộ làm việc đúng giờ, nhanh", RULES) == {"praise"}


def test_an_electronic_information_board_is_guidance_and_the_call_screen_facilities():
    # the labelling rule decided for all rounds before the round-11 freeze (tests/data headers): a lobby's electronic
    # information board switched off is guidance (it is the notice board); the queue-number call screen is equipment
    # (round-8 rule).  Before the freeze of round 11 "bảng điện tử" was a facilities subject: both were facilities.
    assert "guidance" in classify("Bảng điện tử ở sảnh tắt suốt, không xem được danh mục thủ tục", RULES)
    assert "facilities" not in classify("Bảng điện tử ở sảnh tắt suốt, không xem được danh mục thủ tục", RULES)
    assert "facilities" in classify("Bảng điện tử gọi số tắt từ sáng", RULES)


@pytest.mark.parametrize("text", ["Xin hỏi chủ nhật có nhận hồ sơ không?",
                                  "Làm giấy phép kinh doanh thì bắt đầu từ đâu?",
                                  "cho hỏi trích lục khai sinh làm ở đâu vậy"])
def test_a_question_about_a_procedure_is_guidance(text):
    # the labelling rule decided for all rounds before the round-11 freeze (tests/data headers)
    assert "guidance" in classify(text, RULES)


@pytest.mark.parametrize("text", ["mún làm hộ chiếu thì đi đâu z", "Giờ làm việc buổi chiều mấy giờ vậy ạ",
                                  "lam the nao de doi ten tren giay khai sinh", "Làm sao biết hồ sơ tới bước nào rồi?",
                                  "làm lại thẻ BHYT bị mất thì làm ở đâu, online được ko",
                                  "Xin giấy xác nhận thì làm online hay lên trực tiếp?"])
def test_procedure_questions_in_everyday_words_are_guidance(text):
    # round-11 misses ("đi đâu", "mấy giờ", "làm thế nào", "được hông", "online hay ..."), rules over the folded text
    assert "guidance" in classify(text, RULES)


def test_staff_explaining_too_fast_is_guidance_not_praise_or_waiting():
    assert classify("Nhân viên nói nhanh quá, tui nghe không kịp", RULES) == {"guidance"}


@pytest.mark.parametrize("text", ["Cho hỏi nộp bản chính hay bản sao được vậy?",
                                  "Làm sổ hồng lần đầu cần những giấy gì vậy ạ"])
def test_a_question_about_which_documents_are_needed_is_paperwork_and_guidance(text):
    # the lead's labelling decision for all rounds before the round-12 freeze (tests/data headers)
    assert {"paperwork", "guidance"} <= classify(text, RULES)


@pytest.mark.parametrize("text", ["Làm lại cccd hông tốn đồng nào, ưng quá", "Không ai đòi tiền, làm nhanh"])
def test_no_cost_remark_is_praise_only(text):
    # the lead's labelling decision for all rounds before the round-12 freeze: no fees, no waiting, no paperwork
    assert classify(text, RULES) == {"praise"}


def test_quick_work_is_praise_and_money_for_speed_is_fees():
    assert classify("Cán bộ làm nhanh, vui vẻ", RULES) == {"praise"}
    assert {"attitude", "fees"} <= classify("Phải đưa tiền mới làm nhanh", RULES)


@pytest.mark.parametrize(("text", "topic"), [("Lệ phí niêm yết 50 ngàn mà thu 100 ngàn", "fees"),
                                             ("Không hiểu sao hồ sơ đơn giản mà mất 2 tuần", "waiting")])
def test_posted_fee_comparisons_and_rhetorical_why_are_not_guidance(text, topic):
    assert classify(text, RULES) == {topic}


def test_a_reissued_document_named_is_not_a_paperwork_complaint():
    assert "paperwork" not in classify("Cho hỏi làm lại căn cước bị mất ở đâu", RULES)
    assert "paperwork" in classify("Cán bộ hướng dẫn sai nên phải làm lại hồ sơ", RULES)


@pytest.mark.parametrize("text", ["không biết ghi gì", "hổng biết nói gì hết"])
def test_nothing_to_say_is_no_topic(text):
    assert classify(text, RULES) == frozenset()


@pytest.mark.parametrize("text", ["Cán bộ gợi ý đưa phong bì cho nhanh", "muốn lẹ thì gửi chút tiền cà phê cho anh em",
                                  "Phải lót tay mới được ký", "nhung nhieu, voi tien dan"])
def test_hints_at_unofficial_money_are_attitude_and_fees(text):
    # the labelling rule of rounds 8-9, applied to every round since 7 Dec 2026 (tests/data headers)
    assert {"attitude", "fees"} <= classify(text, RULES)


@pytest.mark.parametrize(("text", "want"), [
    ("ok lắm 👍", {"praise"}), ("👍👍👍", {"praise"}), ("⭐⭐⭐⭐⭐", {"praise"}), ("⭐⭐⭐", set()),
    ("Nhanh quá hen, chờ 3 tiếng mới tới lượt 🙂", {"waiting"}), ("Tuyệt vời, chờ 4 tiếng thôi à 🙃", {"waiting"})])
def test_emoji_are_read_as_the_lexicon_symbols_say(text, want):
    # `symbols`: a thumbs-up or heart reads as praise, five stars as "5 sao"; a smile beside a complaint is irony
    assert classify(text, RULES) == want


@pytest.mark.parametrize(("text", "topic", "not_topic"), [
    ("Có 2 quầy mà 1 quầy bỏ trống, dân xếp hàng dài.", "waiting", "facilities"),
    ("Trụ sở phường mới không có bảng tên, chạy ngang mấy lần không thấy.", "guidance", "facilities"),
    ("Trụ sở mới chưa có bảng hiệu ngoài đường", "guidance", "facilities"),
    ("Bị truy thu 3 tháng trợ cấp thất nghiệp vì báo trễ", "fees", None),
    ("Hồ sơ nộp rồi mà không biết bao giờ mới xong", "guidance", None),
    ("Hồ sơ nộp rồi mà không biết bao giờ mới xong", "waiting", None),
    ("Muốn nhanh thì đi cửa sau", "attitude", None),
])
def test_labelling_rules_of_rounds_19_and_20(text, topic, not_topic):
    # the rules the writers of rounds 19-20 were told (rounds 1-18 relabelled by them, tests/data headers): too few
    # counters open = waiting, not facilities; a missing signboard = guidance; fines and claw-backs = fees;
    # "cửa sau" = attitude,fees; no date given = waiting,guidance
    got = classify(text, RULES)
    assert topic in got and not_topic not in got


def test_no_money_asked_is_praise_not_attitude():
    assert classify("Không ai đòi bồi dưỡng, rất minh bạch", RULES) == {"praise"}


def test_every_labelled_round_follows_the_unofficial_money_rule():
    """A fees line naming a bribe word is attitude too (rounds 1-7 were relabelled by the round-8 rule; a round
    that breaks it again fails here)."""
    bribe = ("bồi dưỡng", "phong bì", "tiền cà phê", "lót tay", "vòi tiền", "bôi trơn", "vòi vĩnh")
    for f in TUNE:
        for text, y in read_labelled(f):
            if "fees" in y and any(w in text.lower() for w in bribe):
                assert "attitude" in y, (f.name, text)


@pytest.mark.parametrize(("text", "topic"), [
    ("Chờ 3 tiếng mới xong", "waiting"), ("cho may tieng lien", "waiting"), ("Đợi hai tuần", "waiting"),
    ("Hẹn trả kết quả nhiều lần", "waiting"), ("hen tra nhieu lan", "waiting"), ("Nhân viên cáu gắt", "attitude"),
])
def test_placeholders_cover_numbers_and_a_few_words_between(text, topic):
    assert topic in classify(text, LEX)


def test_placeholders_do_not_reach_across_clauses_or_too_far():
    assert "waiting" not in classify("Hẹn trả đúng, nhiều lần đến đều tốt", RULES)
    assert "waiting" not in classify("Hẹn gặp lại anh chị cán bộ ở bộ phận một cửa nhiều lần nữa", RULES)


@pytest.mark.parametrize(("text", "topic"), [
    ("Ngồi đợi 3 tiếng đồng hồ", "waiting"), ("xep hang ca buoi", "waiting"), ("Mất nguyên buổi sáng", "waiting"),
    ("Chị ở quầy mặt lạnh tanh", "attitude"), ("Ông cán bộ này dữ dằn", "attitude"),
    ("Khỏi phải chờ lâu", "praise"), ("Đến là được làm liền, ko đợi gì hết", "praise"),
])
def test_word_classes_cover_families_of_wordings(text, topic):
    assert topic in classify(text, LEX)


def test_a_class_phrase_does_not_reach_across_a_negator():
    assert classify("Cán bộ không hề cáu gắt, rất cảm ơn", LEX) == {"praise"}


@pytest.mark.parametrize(("text", "topic"), [
    ("cb ko nhiet tinh", "attitude"), ("nv k than thien", "attitude"), ("Máy lạnh hư", "facilities"),
    ("tg cho doi qua lau", "waiting"),
])
def test_aliases_expand_abbreviations_and_regional_words(text, topic):
    assert classify(text, LEX) == {topic}


def test_an_ambiguous_unaccented_word_needs_its_accents_to_match_alone():
    lex = parse_lexicon({"topics": [{"code": "facilities", "label": {"vi": "x"}, "problems": ["bẩn", "phòng bẩn"]}],
                         "ambiguous_unaccented": ["ban"]})
    assert classify("nop ban cung", lex) == frozenset()  # "bản cứng", not "bẩn"
    assert classify("Bàn bẩn quá", lex) == {"facilities"}
    assert classify("phong ban qua", lex) == {"facilities"}  # a longer phrase still matches


def test_classes_and_aliases_are_checked():
    base = {"code": "x", "label": {"vi": "x"}}
    with pytest.raises(LexiconError, match="unknown class"):
        parse_lexicon({"topics": [{**base, "problems": ["<chờ> lâu"]}]})
    with pytest.raises(LexiconError, match="one typed word"):
        parse_lexicon({"topics": [base], "aliases": {"hỏi han": "hỏi"}})
    with pytest.raises(LexiconError, match="members"):
        parse_lexicon({"topics": [base], "classes": {"a": ["ngày <số>"]}})
    lex = parse_lexicon({"topics": [{**base, "problems": ["<đợi> lâu"]}], "classes": {"đợi": ["chờ", "ngồi đợi"]},
                         "aliases": {"ko": "không"}, "negators": ["không"], "problem_negated_topic": None})
    assert classify("ngoi doi lau", lex) == {"x"} and classify("Ko chờ lâu", lex) == frozenset()


def test_a_phrase_cannot_begin_with_a_placeholder():
    with pytest.raises(LexiconError, match="cannot begin"):
        parse_lexicon({"topics": [{"code": "x", "label": {"vi": "x"}, "problems": ["<số> ngày"]}]})


@pytest.mark.parametrize(("text", "topics"), [
    ("Không bị làm khó gì hết", {"praise"}), ("Lần đầu đi làm giấy tờ mà không bực mình chút nào", {"praise"}),
    ("Không đưa phong bì thì hồ sơ cứ nằm đó", {"attitude", "fees", "waiting"}),  # a condition, not a negation
    ("Nên liên thông để dân không phải đi nhiều nơi", {"paperwork"}),  # a wish, not praise
    ("Chưa tới 15 phút là xong", {"praise"}),  # "chưa tới <số>" is ignored: its negator negates nothing
])
def test_negation_rules(text, topics):
    # the rules' negation handling; the learned weights of the round-19/20 freeze outweigh the rules' praise in
    # "... mà không bực mình chút nào" ("mà" weighs against praise in rounds 1-18), so this checks the rules alone
    assert classify(text, RULES) == topics


def test_a_suggestion_counts_for_the_topic_its_praise_word_names():
    assert classify("Cán bộ nên mềm mỏng hơn", LEX) == {"attitude"}
    assert classify("Cán bộ rất mềm mỏng", LEX) == {"praise"}


def test_a_mostly_unaccented_text_is_compared_without_accents():
    # a few accented words ("đô", "tôt") do not make "thai" compare as written
    assert classify("nhan vien thai đô ko tôt", LEX) == {"attitude"}


def test_a_missing_problem_negated_topic_means_nothing():
    topic = {"code": "waiting", "label": {"vi": "x"}, "problems": ["chờ lâu"]}
    lex = parse_lexicon({"topics": [topic, {"code": "praise", "label": {"vi": "y"}}], "negators": ["không"]})
    assert classify("Không chờ lâu", lex) == frozenset()
    lex = parse_lexicon({"topics": [topic, {"code": "praise", "label": {"vi": "y"}}], "negators": ["không"],
                         "problem_negated_topic": "praise"})
    assert classify("Không chờ lâu", lex) == {"praise"}
    with pytest.raises(LexiconError, match="problem_negated_topic"):
        parse_lexicon({"topics": [topic], "problem_negated_topic": "nope"})


def test_irony_takes_the_praise_away_only_with_a_complaint():
    assert classify("Nhanh ghê, mới có ba tiếng đồng hồ là tới lượt tui", LEX) == {"waiting"}
    assert classify("Nhanh ghê, cảm ơn cô", LEX) == {"praise"}


def test_telex_keys_left_in_words_are_dropped():
    assert classify("chowf laau quas", LEX) == {"waiting"}
    assert classify("very good", LEX) == {"praise"}  # a lexicon word is never read as Telex


def test_several_topics_or_none():
    assert classify("Cán bộ nhiệt tình nhưng chờ lâu quá, phòng chờ nóng", LEX) == {"praise", "waiting", "facilities"}
    assert classify("Không có ý kiến.", LEX) == frozenset()


def test_an_unaccented_function_word_does_not_match_an_accented_word():
    # "cho" (for) before praise makes a suggestion ("cho dễ hiểu"); "chờ" (wait) must not: the waiting room
    # is praised here.  Typed without accents, "cho" stays ambiguous and the suggestion reading is kept.
    assert classify("Phòng chờ sạch sẽ, mát mẻ.", LEX) == {"praise"}
    assert classify("Nên viết hướng dẫn cho dễ hiểu", LEX) == {"guidance"}


def test_an_ignored_phrase_hides_the_words_inside_it():
    assert "fees" not in classify("Nên có nước uống miễn phí cho người chờ", LEX)
    assert "fees" in classify("Phí làm giấy tờ quá cao", LEX)
    lex = parse_lexicon({"topics": [{"code": "fees", "label": {"vi": "x"}, "subjects": ["phí"]}],
                         "ignore": ["miễn phí"]})
    assert classify("Gửi xe miễn phí", lex) == frozenset()
    assert classify("Gửi xe mất phí", lex) == {"fees"}


def test_longest_phrase_wins_and_money_for_speed_is_not_praise():
    # money for speed is a hint at unofficial money: attitude,fees (labelling rule of rounds 8-9), never praise
    assert classify("Phải đưa tiền mới làm nhanh", LEX) == {"attitude", "fees"}


def test_an_edited_lexicon_changes_the_result(tmp_path):
    data = yaml.safe_load(DEFAULT_LEXICON.read_text(encoding="utf-8"))
    del data["learned_weights"]  # the rules alone: the learned weights already give attitude here
    text = "Cán bộ làm mặt ngầu với người dân"
    assert "attitude" not in classify(text, RULES)
    next(t for t in data["topics"] if t["code"] == "attitude")["problems"].append("làm mặt ngầu")
    path = tmp_path / "lex.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert "attitude" in classify(text, load_lexicon(path))


@pytest.mark.parametrize(("data", "message"), [
    ({}, "topics"),
    ({"topics": [{"code": "x"}]}, "label"),
    ({"topics": [{"code": "Bad code", "label": {"vi": "x"}}]}, "code"),
    ({"topics": [{"code": "x", "label": {"vi": "x"}, "problems": "chờ"}]}, "list"),
    ({"topics": [{"code": "praise", "label": {"vi": "x"}, "terms": ["tốt"], "negated": {"tốt": "nope"}}]}, "unknown"),
    ({"topics": [{"code": "x", "label": {"vi": "x"}}], "symbols": {"ok": "tốt"}}, "symbols"),
    ({"topics": [{"code": "x", "label": {"vi": "x"}}], "symbols": ["👍"]}, "symbols"),
])
def test_bad_lexicon_is_a_clear_error(data, message):
    with pytest.raises(LexiconError, match=message):
        parse_lexicon(data)


def test_the_check_command_reports_an_error_with_exit_2(tmp_path, capsys):
    from analysis.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("topics: 1\n", encoding="utf-8")
    assert main(["topics", "check", str(bad)]) == 2
    assert "topics" in capsys.readouterr().err
    assert main(["topics", "check"]) == 0


def test_labelled_rounds_have_enough_comments_per_topic():
    tune = [row for f in TUNE for row in read_labelled(f)]
    assert len(tune) >= 300
    for code in LEX.codes:
        assert sum(code in t for _x, t in tune) >= 20, code
    assert {c for _x, t in tune for c in t} <= set(LEX.codes)


@needs_held_out
def test_held_out_rounds_have_enough_comments_per_topic():
    held = _held_out()
    for code in LEX.codes:
        assert sum(code in t for _x, t in held) >= 20, code
    assert {c for _x, t in held for c in t} <= set(LEX.codes)


# Which measure these check: the shipped classifier (frozen before the held-out rounds were opened; weights learned
# from every earlier round) on the held-out rounds POOLED, writers who never saw the classifier, measured ONCE
# (benchmarks/README.md).  MISSED holds the topics that missed the goal there, with the figures, as strict xfails:
# a mark must be removed when a change makes its topic pass (measured on NEW rounds, never by tuning on these).
# Held-out rounds 17-18 (freeze b812b76) had met the goal for 7 of 8 topics (praise recall 0.78 missed); they are
# learned rounds now.  Held-out rounds 19-20 (freeze ec445b3, 22:23:15 UTC; rounds added in 9761597, 22:27:41)
# measured once by the lead at 22:27: 7 of 8 topics met the goal on the 1,045 pooled comments (praise recall 0.78
# on 17-18 is 0.92 now); guidance precision 0.78 missed.  They are learned rounds now; held out: rounds 21-22 (the
# round-21/22 freeze 9cb3e79, 01:11:43 UTC on 8 Dec; rounds added in bf92a70), measured once by the lead at 01:16:
# all 8 topics met the goal on the 1,068 pooled comments (guidance precision 0.91; lowest point estimate online
# precision 0.82).
MISSED: dict[str, str] = {}


@needs_held_out
@pytest.mark.parametrize("code", [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=MISSED[c]))
                                  if c in MISSED else c for c in LEX.codes])
def test_held_out_precision_and_recall_meet_the_goal(code):
    s = evaluate(_held_out(), LEX)[code]
    assert s["support"] >= 20
    assert not math.isnan(s["precision"])
    assert s["precision"] >= 0.8 and s["recall"] >= 0.8


def _bench():
    spec = importlib.util.spec_from_file_location(
        "topics_bench", Path(__file__).resolve().parents[2] / "benchmarks" / "topics_bench.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_benchmark_command_prints_the_table(capsys, tmp_path):
    held = tmp_path / "held.tsv"
    held.write_text("waiting\tChờ 3 tiếng mới tới lượt\nfees\tPhải đưa tiền mới làm nhanh\n", encoding="utf-8")
    assert _bench().main(["--heldout", str(held)]) == 0  # every topic has < 20 examples: no goal to miss
    out = capsys.readouterr().out
    n_tune = sum(len(read_labelled(f)) for f in TUNE)
    assert f"tune {n_tune}, held-out 2 (held.tsv 2)" in out
    assert "| waiting | 1 | 1.00 (0.21-1.00), 1 of 1 | 1.00 (0.21-1.00), 1 of 1 |" in out
    assert "| fees | 1 | 1.00 (0.21-1.00), 1 of 1 |" in out


def test_benchmark_says_when_the_held_out_round_is_not_written_yet(capsys, tmp_path):
    assert _bench().main(["--heldout", str(tmp_path / "comments-topics-vi-99.tsv")]) == 0
    assert "held-out comments-topics-vi-99.tsv not written yet" in capsys.readouterr().out


def test_benchmark_pools_the_held_out_rounds_with_intervals_and_gives_each_round(capsys, tmp_path):
    one, two = tmp_path / "comments-topics-vi-98.tsv", tmp_path / "comments-topics-vi-99.tsv"
    one.write_text("waiting\tChờ 3 tiếng mới tới lượt\nfees\tPhải đưa tiền mới làm nhanh\n", encoding="utf-8")
    assert _bench().main(["--heldout", str(one), str(two)]) == 0  # one round missing: no half-pooled figures
    out = capsys.readouterr().out
    assert "held-out comments-topics-vi-99.tsv not written yet" in out and "| waiting | 1 |" not in out
    two.write_text("waiting\tĐợi cả buổi sáng\n", encoding="utf-8")
    assert _bench().main(["--heldout", str(one), str(two)]) == 0
    out = capsys.readouterr().out
    assert "held-out 3 (comments-topics-vi-98.tsv 2 + comments-topics-vi-99.tsv 1)" in out
    assert "| waiting | 2 | 1.00 (0.34-1.00), 2 of 2 | 1.00 (0.34-1.00), 2 of 2 |" in out  # Wilson 95%
    assert "| waiting | 1.00 / 1.00 (1) | 1.00 / 1.00 (1) |" in out  # each round apart


@needs_held_out
def test_benchmark_on_the_held_out_round_fails_while_a_topic_misses_the_goal(capsys):
    assert _bench().main([]) == (1 if MISSED else 0)
    assert f"held-out {len(_held_out())} ({HELD_OUT[0].name} " in capsys.readouterr().out


def test_rising_flags_a_share_that_rose_enough_with_enough_comments():
    from analysis.topics import rising

    before = (10, {"fees": 1, "waiting": 5})
    now = (20, {"fees": 6, "waiting": 10, "praise": 2})
    got = rising(before, now)
    # fees 10% → 30% (6 comments): flagged; waiting 50% → 50%: not; praise 0% → 10% but only 2 comments: not
    assert [(r.topic, r.n_now, round(r.points, 9)) for r in got] == [("fees", 6, 0.2)]
    assert rising(before, now, min_count=2)[-1].topic == "praise"
    assert rising((0, {}), now) == []  # no comments before: no share to rise from


def test_cross_validation_removes_the_phrases_only_the_measured_round_needs():
    spec = importlib.util.spec_from_file_location(
        "topics_bench", Path(__file__).resolve().parents[2] / "benchmarks" / "topics_bench.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    data = {"topics": [{"code": "waiting", "label": {"vi": "x"}, "problems": ["chờ lâu", "rùa bò"]}]}
    rounds = [[("Chờ lâu quá", frozenset({"waiting"}))],
              [("Chờ lâu", frozenset({"waiting"})), ("Hồ sơ đi như rùa bò", frozenset({"waiting"}))]]
    cv, dropped = mod.cross_validate(rounds, data)
    assert dropped == [0, 1]  # "rùa bò" is needed by round 2 alone, "chờ lâu" by both
    assert cv[0]["waiting"]["recall"] == 1.0 and cv[1]["waiting"]["recall"] == 0.5


def test_negated_words_are_their_own_learned_features():
    from analysis.topics import features

    f = features("Không chờ lâu. Chờ 3 tiếng", LEX)
    assert {"~cho", "~cho ~lau", "cho", "cho <so>"} <= f
    assert "~tieng" not in f  # the negation ends with its clause


def test_numbers_glued_to_their_unit_count_as_amounts_and_times():
    from analysis.topics import features

    f = features("Thu 30k một bộ, tới 8h15 chưa mở", LEX)
    assert {"<so> nghin", "<so> gio"} <= f and "30k" not in f


def _learned(tmp_path, lines: str):
    lex_text = DEFAULT_LEXICON.read_text(encoding="utf-8")
    data = yaml.safe_load(lex_text)
    data["learned_weights"] = "w.tsv"
    (tmp_path / "lex.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    (tmp_path / "w.tsv").write_text(lines, encoding="utf-8")
    return load_lexicon(tmp_path / "lex.yaml")


def test_learned_weights_add_a_topic_the_rules_miss_and_say_why(tmp_path):
    from analysis.topics import explain

    text = "Cô ấy ngồi đọc báo nghe nhạc"
    assert "attitude" not in classify(text, RULES)
    lex = _learned(tmp_path, "# note\nattitude\t(bias)\t-1.0\nattitude\tĐọc báo\t0.7\nattitude\tnghe nhạc\t0.5\n")
    assert "attitude" in classify(text, lex)
    assert [(m.term, m.rule) for m in explain(text, lex) if m.topic == "attitude"] == [
        ("doc bao", "learned"), ("nghe nhac", "learned")]
    assert "attitude" not in classify("Cô ấy nghe nhạc", lex)  # 0.5 - 1.0 < 0


def test_a_negated_term_weighs_apart_from_the_plain_one(tmp_path):
    lex = _learned(tmp_path, "waiting\t(bias)\t-1\nwaiting\tlâu lắc\t2\nwaiting\t~lâu lắc\t-3\n")
    assert "waiting" in classify("Làm hồ sơ lâu lắc", lex)
    assert "waiting" not in classify("Làm hồ sơ không lâu lắc", lex)


def test_a_learned_class_weight_holds_for_every_word_of_the_class(tmp_path):
    # the lexicon's class <chê> (kém, dữ dằn, uể oải, …): one weight, every member, none of them a rule phrase alone
    lex = _learned(tmp_path, "attitude\t(bias)\t-1\nattitude\t<chê>\t2\n")
    for word in ("lờ đờ", "uể oải", "dữ dằn"):
        assert "attitude" not in classify(f"Bác bảo vệ {word}", RULES)
        assert "attitude" in classify(f"Bác bảo vệ {word}", lex), word
    assert "attitude" not in classify("Bác bảo vệ không dữ dằn", lex)  # negated: "~<che>", another term


def test_irony_vetoes_learned_praise(tmp_path):
    lex = _learned(tmp_path, "praise\t(bias)\t-1\npraise\tnhanh\t2\n")
    assert "praise" not in classify("Nhanh ghê, mới có ba tiếng đồng hồ là tới lượt tui", lex)


@pytest.mark.parametrize("lines", ["attitude\tx\n", "nope\tx\t1\n", "attitude\tx\tone\n", "attitude\tx\tnan\n"])
def test_a_broken_weights_file_is_a_clear_lexicon_error(tmp_path, lines):
    with pytest.raises(LexiconError, match="learned_weights"):
        _learned(tmp_path, lines)


def test_weights_file_round_trip_is_sorted_by_topic_then_weight(tmp_path):
    from analysis.topics import Weights, read_weights, write_weights

    w = Weights({"waiting": {"cho": 1.5, "(bias)": -2.0, "~cho": -1.0}, "fees": {"phi": 0.5}})
    write_weights(tmp_path / "w.tsv", w, "header")
    lines = (tmp_path / "w.tsv").read_text(encoding="utf-8").splitlines()
    assert lines == ["# header", "fees\tphi\t0.500", "waiting\t(bias)\t-2.000", "waiting\tcho\t1.500",
                     "waiting\t~cho\t-1.000"]
    assert read_weights(tmp_path / "w.tsv").terms == w.terms


def test_learning_finds_the_words_of_a_topic():
    from analysis import topics_learn

    rows = [("Cô ấy ngồi soi gương", frozenset({"attitude"})), ("Anh ấy soi gương suốt", frozenset({"attitude"})),
            ("Phòng rộng", frozenset()), ("Ghế mới", frozenset()), ("Soi gương luôn", frozenset({"attitude"})),
            ("Nộp hồ sơ", frozenset())]
    data, _folds = topics_learn.prepare([rows], LEX)
    raw = topics_learn.learn(data, range(len(rows)), ["attitude"])
    top = max((t for t in raw["attitude"] if t != "(bias)"), key=raw["attitude"].get)
    assert top in {"soi", "guong", "soi guong"}
    w = topics_learn.final(raw, {"attitude": 0.5})
    assert w.decide("attitude", data.feats[0], ()) and not w.decide("attitude", data.feats[2], ())


def test_stacked_weights_can_outweigh_a_rule_and_say_so(tmp_path):
    from analysis.topics import explain

    text = "Chờ lâu, phòng chờ nóng quá"
    assert classify(text, RULES) == {"waiting", "facilities"}
    # the rules' finding is one term of the score: "@waiting" for, "@facilities" against
    lex = _learned(tmp_path, "waiting\t(bias)\t-1\nwaiting\t@waiting\t2\nwaiting\t@facilities\t-2\n")
    assert classify(text, lex) == {"facilities"}  # facilities has no weights: its rules decide
    assert ("waiting", "outweighed") in {(m.topic, m.rule) for m in explain(text, lex)}
    assert classify("Chờ lâu quá", lex) == {"waiting"}
    # without an "@waiting" line the rules' hit gives the topic whatever the score (the older files)
    lex = _learned(tmp_path, "waiting\t(bias)\t-1\nwaiting\t@facilities\t-2\n")
    assert classify(text, lex) == {"waiting", "facilities"}


def test_shipped_weights_keep_the_hand_rules_of_these_tests():
    # the rule tests above run with the learned layer on; here: the layer overrules no rule finding on them
    texts = ["Chờ lâu quá", "Đề nghị bổ sung chỗ để xe", "Cán bộ không nhiệt tình", "Cán bộ nhiệt tình",
             "Thái độ phục vụ rất tốt", "Thái độ không tốt, cần chấn chỉnh", "Phải đưa tiền mới làm nhanh",
             "Cán bộ nên mềm mỏng hơn", "Không bị làm khó gì hết", "Nên viết hướng dẫn cho dễ hiểu"]
    for text in texts:
        assert classify(text, LEX) >= classify(text, RULES), text


def test_split_half_halves_every_round_and_label_set_the_same_way_each_time():
    from analysis import topics_learn

    rounds = [[(f"r{r} c{i}", frozenset({"waiting"} if i % 3 else {"fees", "guidance"})) for i in range(n)]
              for r, n in enumerate((11, 20, 7))]
    tune, report = topics_learn.split_half(rounds)
    assert (tune, report) == topics_learn.split_half(rounds)
    assert (tune, report) != topics_learn.split_half(rounds, seed=16)
    rows = [y for rs in rounds for _t, y in rs]
    start = 0
    for rs, a, b in zip(rounds, tune, report, strict=True):
        assert sorted(a + b) == list(range(start, start + len(rs)))
        for label in ({"waiting"}, {"fees", "guidance"}):
            assert abs(sum(rows[i] == label for i in a) - sum(rows[i] == label for i in b)) <= 1
        start += len(rs)


def test_threshold_choice_weighs_precision_more_than_recall():
    from analysis import topics_learn

    # 4 with the topic scoring 2, 1, 1, -3; 6 without scoring 1.05, 1.05, -1, -2, -2, -2.  A low threshold finds
    # 3 true ones and 2 false; a high one 1 true one and no false one.
    rows = [("x", frozenset({"fees"}))] * 4 + [("y", frozenset())] * 6
    data = topics_learn.Prepared([frozenset()] * 10, [frozenset()] * 10, [frozenset()] * 10,
                                 [y for _t, y in rows], [False] * 10)
    s = [2, 1, 1, -3, 1.05, 1.05, -1, -2, -2, -2]
    idx = list(range(10))
    low, high = topics_learn.choose("fees", s, data, idx, beta=2.0), topics_learn.choose("fees", s, data, idx, 0.3)
    assert topics_learn.counts("fees", s, math.log(low / (1 - low)), data, idx)[1] > 0  # recall-weighted: false ones
    assert topics_learn.counts("fees", s, math.log(high / (1 - high)), data, idx)[1] == 0


def test_rule_findings_of_a_round_the_lexicon_was_tuned_on_are_cross_fitted():
    from analysis import topics_learn

    data = {"topics": [{"code": "waiting", "label": {"vi": "x"}, "problems": ["chờ lâu", "rùa bò"]}]}
    lex = parse_lexicon(data)
    rounds = [[("Chờ lâu quá", frozenset({"waiting"}))],
              [("Chờ lâu", frozenset({"waiting"})), ("Hồ sơ đi như rùa bò", frozenset({"waiting"}))]]
    prep, folds = topics_learn.prepare(rounds, lex, data, tuned=[1])
    assert folds == [[0], [1, 2]]
    assert prep.rules[2] == {"waiting"}  # what the shipped classifier sees
    assert prep.fit_rules[2] == frozenset()  # "rùa bò" is needed by round 2 alone: training does not see it
    assert prep.fit_rules[1] == {"waiting"}  # "chờ lâu" is supported by round 1 too


def test_leave_one_round_out_learns_each_weighting_once_and_matches_training_without_the_round():
    from analysis import topics_learn

    words = ["chờ lâu quá", "đợi mãi", "phòng nóng", "ghế hỏng", "thu thêm tiền", "cán bộ vui vẻ"]
    rounds = [[(f"{words[(r + i) % 6]} {words[(2 * r + i) % 6]}", frozenset({"waiting"} if i % 2 else {"fees"}))
               for i in range(8)] for r in range(3)]
    prep, folds = topics_learn.prepare(rounds, LEX)
    cv = topics_learn.cross_validate(prep, folds, ["waiting", "fees"], l2s=(0.5, 8.0))
    for k, fold_k in enumerate(cv):
        model, direct = topics_learn.train(prep, [f for j, f in enumerate(folds) if j != k], ["waiting", "fees"],
                                           l2s=(0.5, 8.0))
        assert fold_k.chosen == {c: t for c, (_l2, t) in direct.items()}
        assert fold_k.l2 == {c: l2 for c, (l2, _t) in direct.items()}
        assert fold_k.combined == topics_learn.measure(model, prep, folds[k], ["waiting", "fees"])[1]
