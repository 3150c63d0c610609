"""Every staff page a role reaches by following links, read in Vietnamese (issue 12): no English word of the
interface, no English decimals (84.97%), no period codes (2022-Q4, 2022-11) where a reader expects
"Quý IV/2022" and "Tháng 11/2022".

The English words are taken from the catalogue itself (the msgids), less every word the Vietnamese
translations also use (SIPAS, logit, Khmer …): a string left out of the catalogue, or a template that prints a
raw value, shows up here.  Codes in capitals (OVERALL, CSV) and names from the data are not words of the
interface.  The clock is fixed, so the pages do not depend on today's date."""

from __future__ import annotations

import re
from collections import Counter, deque
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po

from tests.dashboard.hakit import use_language
from tests.dashboard.helpers import forget_user, login
from tests.dashboard.publishkit import N_MIN, TODAY, published_history

ROOT = Path(__file__).resolve().parent.parent
WORD = re.compile(r"\w+")
#: links that are not pages to read: downloads, switches, citizen and kiosk pages, signing out
SKIP = re.compile(r"^/(static|lang|kiosk|s/|r/|auth/logout)|format=|\.(csv|xlsx|pdf|png|svg|zip|txt)(\?|$)|export")
PER_ROLE = 30  # pages read per role (each distinct path at most twice, with different queries)
PLACEHOLDER = re.compile(r"%\(\w+\)\w|\{\w+\}")  # %(period)s is not a word a reader sees
ENGLISH_DECIMAL = re.compile(r"\d\.\d+\s?%")
PERIOD_CODE = re.compile(r"\b20\d\d-(Q[1-4]|\d\d)\b(?!-\d)")  # an ISO date (a file format's example) is not one


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text) if w.isascii() and w.isalpha() and len(w) >= 4}


def _english_words() -> set[str]:
    with (ROOT / "translations/vi/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="vi")
    english: set[str] = set()
    vietnamese: set[str] = set()
    for m in catalog:
        if not m.id:
            continue
        for msgid in m.id if isinstance(m.id, tuple | list) else [m.id]:
            english |= _words(PLACEHOLDER.sub(" ", msgid))
        for msgstr in m.string if isinstance(m.string, tuple | list) else [m.string]:
            vietnamese |= _words(PLACEHOLDER.sub(" ", msgstr or ""))
    return english - vietnamese


#: not read: scripts and styles, and identifiers marked as code (a level's code "city" in the tree file format)
UNREAD = ("script", "style", "template", "code", "kbd", "samp")


class _Page(HTMLParser):
    """What a reader sees (element text, SVG titles, placeholders and labels for assistive technology) and
    the same-site links of the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in UNREAD:
            self._hidden += 1
        values = dict(attrs)
        for name in ("placeholder", "aria-label", "title", "alt"):
            if values.get(name):
                self.text.append(str(values[name]))
        if tag == "a" and (href := values.get("href")) and href.startswith("/") and not href.startswith("//"):
            self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag in UNREAD and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.text.append(data)


@pytest.fixture
def city(app, db_session):
    app.config.update(HAILONG_BOOTSTRAP_B=30, HAILONG_N_MIN=N_MIN, HAILONG_CLOCK=lambda: TODAY)
    return published_history(db_session)


def _data_words(city) -> set[str]:
    """Words of the names in the data (units, agencies, service points, users, questionnaire ids such as
    counter-quick): not the interface's."""
    names = [n for obj in [*city.city.units.values(), *city.city.agencies.values(),
                           *city.city.service_points.values()] for n in (obj.name_vi, obj.code)]
    return _words(" ".join([*names, *city.city.users, *city.city.questionnaires]))


def _read_as(client, username: str) -> dict[str, str]:
    """The visible text of up to PER_ROLE pages reached from the role's start page by following links."""
    landing = login(client, username).headers["Location"]
    use_language(client, "vi")
    queue: deque[str] = deque([landing, "/dashboard/", "/homeaffairs/", "/admin/", "/auth/password"])
    seen: set[str] = set()
    per_path: Counter[str] = Counter()
    pages: dict[str, str] = {}
    while queue and len(pages) < PER_ROLE:
        url = queue.popleft()
        path = urlsplit(url).path
        if url in seen or SKIP.search(url) or per_path[path] >= 2:
            continue
        seen.add(url)
        forget_user()
        resp = client.get(url)
        if resp.status_code in (301, 302, 303) and resp.headers["Location"].startswith("/"):
            queue.appendleft(resp.headers["Location"])
        if resp.status_code != 200 or resp.mimetype != "text/html":
            continue
        per_path[path] += 1
        parser = _Page()
        parser.feed(resp.get_data(as_text=True))
        pages[url] = " ".join(parser.text)
        queue.extend(parser.links)
    return pages


@pytest.mark.parametrize("username", ["tuphap", "ninhkieu", "noivu", "admin"])
def test_staff_pages_in_vietnamese_show_no_english_and_vietnamese_numbers(client, city, username):
    english = _english_words() - _data_words(city)
    pages = _read_as(client, username)
    assert len(pages) >= 3, pages.keys()
    found: dict[str, list[str]] = {}
    for url, text in pages.items():
        visible = {w for w in WORD.findall(text) if w.isascii() and w.isalpha() and not w.isupper()}
        leaks = sorted(w for w in visible if w.lower() in english and len(w) >= 4 and w != "English")
        leaks += ENGLISH_DECIMAL.findall(text) + [m.group(0) for m in PERIOD_CODE.finditer(text)]
        if leaks:
            found[url] = leaks
    assert found == {}, "\n".join(f"{url}: {words}" for url, words in found.items())


def test_the_check_finds_an_english_word_a_dot_decimal_and_a_period_code():
    english = _english_words()
    assert {"download", "responses", "period"} <= english and "logit" not in english
    parser = _Page()
    parser.feed('<p>Tải <b>Download</b> 84.9% Quý 2022-Q4</p><script>var English = "Period";</script>'
                '<a href="/homeaffairs/?period=2022-Q4">x</a> <code>Period</code>')
    text = " ".join(parser.text)
    assert "Period" not in text and parser.links == ["/homeaffairs/?period=2022-Q4"]
    assert ENGLISH_DECIMAL.findall(text) == ["4.9%"] and PERIOD_CODE.search(text)
    assert PERIOD_CODE.search("Tháng 11/2022, 2022-07-12") is None
    assert "download" in _words(text) & english
