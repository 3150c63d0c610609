"""One Vietnamese word per concept (issue 12): "máy đánh giá" for the kiosk device (not "kiosk" or "máy khảo
sát"), "điểm phục vụ" for a service point (not "điểm tiếp nhận"), "Bộ phận Một cửa" capitalised, and no
wording the pages double up ("(chọn tối đa 3)" after a question whose form already says so, "(SIPAS)..",
"So sánh Cơ quan").  Checked over the Vietnamese catalogue, the newest version of every shipped questionnaire,
the templates, scripts and docs, and on the rendered comparison heading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from questionnaires.loader import load_file, shipped
from questionnaires.model import iter_texts
from tests.dashboard.helpers import forget_user, login
from tests.factories import small_city

ROOT = Path(__file__).resolve().parent.parent

# variants that must not appear anywhere (they only exist in Vietnamese)
REJECTED = [
    (re.compile(r"máy khảo sát", re.I), "máy đánh giá"),
    (re.compile(r"điểm tiếp nhận", re.I), "điểm phục vụ"),
    (re.compile(r"Bộ phận một cửa"), "Bộ phận Một cửa"),
    (re.compile(r"So sánh Cơ quan"), "So sánh các cơ quan"),
    (re.compile(r"\(SIPAS\)\.\."), "(SIPAS)."),
]
# "kiosk" as a Vietnamese word (not a placeholder %(kiosk)s or the /kiosk address)
KIOSK_WORD = re.compile(r"(?<![%(/\w.-])kiosk(?![)\w/])", re.I)


def _vi_catalogue() -> list[str]:
    with (ROOT / "translations/vi/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="vi")
    out = []
    for m in catalog:
        if m.id:
            out.extend(m.string if isinstance(m.string, tuple | list) else [m.string])
    return out


def _newest_questionnaires() -> list:
    newest: dict[str, Path] = {}
    for path in shipped():  # sorted by id then version
        newest[load_file(path).id] = path
    return [load_file(p) for p in newest.values()]


def _offences(texts: list[str], *, kiosk: bool) -> list[str]:
    found = [f"{t[:80]!r}: write {good!r}" for t in texts for bad, good in REJECTED if bad.search(t)]
    if kiosk:
        found += [f"{t[:80]!r}: write 'máy đánh giá'" for t in texts if KIOSK_WORD.search(t)]
    return found


def test_the_vietnamese_catalogue_uses_one_word_per_concept():
    assert _offences(_vi_catalogue(), kiosk=True) == []


def test_the_newest_questionnaire_versions_use_one_word_per_concept_and_no_doubled_hint():
    for q in _newest_questionnaires():
        texts = [t.vi for _where, t in iter_texts(q) if t is not None and t.vi]
        texts += [q.basis] if isinstance(getattr(q, "basis", None), str) else []
        assert _offences(texts, kiosk=True) == [], q.id
        for item in q.items():
            if item.type == "choice" and item.multiple and item.max_choices:
                assert "tối đa" not in item.text.vi and "up to" not in item.text.en, (q.id, item.code)


def test_templates_scripts_and_docs_use_one_word_per_concept():
    files = [*ROOT.glob("survey/**/*.html"), *ROOT.glob("survey/**/*.py"), *ROOT.glob("survey/static/**/*.js"),
             *ROOT.glob("docs/*.md"), ROOT / "README.md"]
    offences = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        offences += [f"{path.relative_to(ROOT)}: {o}" for o in _offences(text.splitlines(), kiosk=False)]
    assert offences == []


@pytest.mark.parametrize(("level", "heading"), [("agency", "So sánh các cơ quan"),
                                              ("district", "So sánh các quận/huyện"),
                                              ("commune", "So sánh các xã/phường")])
def test_comparison_heading_reads_naturally_in_vietnamese(client, db_session, level, heading):
    small_city(db_session)
    assert login(client, "noivu").status_code == 302
    forget_user()
    client.get("/lang/vi")
    html = client.get(f"/homeaffairs/?level={level}").get_data(as_text=True)
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1)
    assert h1.strip().startswith(heading), h1
