"""'Nghe câu hỏi' on the kiosk in headless Chromium (issue 15 §2): the server's espeak-ng audio plays when the
device has no voice, answering stops it, it works with the network cut (service worker), and a device voice is
used when there is one.  Audio is muted in these tests."""

from __future__ import annotations

import os
import shutil
import time

import pytest
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser

# A kiosk without a voice of its own (most tablets have none for Vietnamese); every media element muted.
NO_DEVICE_VOICE = """
(function () {
  if (window.speechSynthesis) { window.speechSynthesis.getVoices = function () { return []; }; }
  window.__played = [];
  document.addEventListener("play", function (e) { e.target.muted = true; }, true);
  document.addEventListener("playing", function (e) { window.__played.push(e.target.currentSrc); }, true);
})();
"""

# A device with an offline Vietnamese voice: what it is asked to say is recorded, nothing is heard.
DEVICE_VOICE = """
(function () {
  var said = window.__said = [];
  var voice = {name: "Test vi", lang: "vi-VN", localService: true, default: true, voiceURI: "test-vi"};
  var fake = {speaking: false, pending: false, cancelled: 0,
    getVoices: function () { return [voice]; },
    speak: function (u) { said.push({text: u.text, lang: u.lang, volume: u.volume}); fake.speaking = true; },
    cancel: function () { fake.cancelled += 1; fake.speaking = false; },
    addEventListener: function () {}};
  Object.defineProperty(window, "speechSynthesis", {value: fake, configurable: true});
  window.SpeechSynthesisUtterance = function (text) { this.text = text; };
  window.__played = [];
  document.addEventListener("playing", function (e) { window.__played.push(e.target.currentSrc); }, true);
})();
"""


@pytest.fixture(autouse=True)
def _needs_espeak() -> None:
    if shutil.which("espeak-ng") is None and not os.environ.get("CI"):
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")


AUDIO = "document.getElementById('kiosk-speech-audio')"


def _wait(page: Page, expression: str, timeout: float = 15) -> None:
    """Poll `expression` with page.evaluate (wait_for_function evaluates strings, which the strict CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(100)


def _audio_playing(page: Page) -> None:
    _wait(page, f"window.__played.length > 0 && !{AUDIO}.paused")


def _listen(page: Page):
    return page.locator(".kiosk-listen")


def test_listen_plays_the_question_and_answering_stops_it(page: Page, context: BrowserContext, live_server):
    context.add_init_script(NO_DEVICE_VOICE)
    live_server.enrol_kiosk(context)
    page.goto("/kiosk")
    expect(page.locator(".kiosk-listen")).to_have_count(0)  # only on question screens
    page.get_by_role("button", name="Bắt đầu").click()
    listen = page.get_by_role("button", name="Nghe câu hỏi")
    expect(listen).to_be_visible()
    page.wait_for_timeout(500)
    assert page.evaluate("window.__played.length") == 0  # never plays by itself
    listen.click()
    _audio_playing(page)
    src = page.evaluate(f"{AUDIO}.currentSrc")
    assert "/kiosk/speech/" in src and src.endswith(".ogg")
    expect(_listen(page)).to_have_attribute("aria-pressed", "true")
    expect(_listen(page)).to_have_text("Dừng đọc")
    # louder/quieter change what is heard at once
    page.get_by_role("button", name="To hơn").click()
    expect(page.locator(".kiosk-volume-level")).to_have_text("Âm lượng 100%")
    assert page.evaluate(f"{AUDIO}.volume") == pytest.approx(1.0)
    page.get_by_role("button", name="Nhỏ hơn").click()
    page.get_by_role("button", name="Nhỏ hơn").click()
    assert page.evaluate(f"{AUDIO}.volume") == pytest.approx(0.6)
    # answering stops the reading; the next question is silent until asked
    page.get_by_role("button", name="Rất hài lòng", exact=True).click()
    _wait(page, f"{AUDIO}.paused", 5)
    expect(page.get_by_text("Câu 2 / 7")).to_be_visible()
    expect(_listen(page)).to_have_attribute("aria-pressed", "false")
    first_src = src
    page.get_by_role("button", name="Nghe lại").click()
    _wait(page, f"window.__played.length > 1 && {AUDIO}.currentSrc !== {first_src!r}")
    # going back to the welcome screen (a kiosk reset) stops it too
    page.get_by_role("button", name="Quay lại").click()
    page.get_by_role("button", name="Quay lại").click()
    expect(page.get_by_role("button", name="Bắt đầu")).to_be_visible()
    assert page.evaluate(f"{AUDIO}.paused")


def test_every_question_of_counter_quick_is_spoken_with_the_network_cut(page: Page, context: BrowserContext,
                                                                         live_server):
    context.add_init_script(NO_DEVICE_VOICE)
    live_server.enrol_kiosk(context)
    page.goto("/kiosk")
    expect(page.locator("html")).to_have_attribute("data-sw", "ready", timeout=15000)
    _wait(page, "navigator.serviceWorker.controller !== null", 15)
    # the service worker has fetched every audio file of the page (vi and en), and nothing failed
    _wait(page, "(document.documentElement.getAttribute('data-speech-cached') || '').indexOf('/') > 0", 30)
    cached, wanted = page.locator("html").get_attribute("data-speech-cached").split("/")
    assert cached == wanted and int(wanted) >= 14
    context.set_offline(True)
    response = page.reload()
    assert response is not None and response.from_service_worker
    page.get_by_role("button", name="Bắt đầu").click()
    sources = set()
    for n in range(1, 8):
        expect(page.get_by_text(f"Câu {n} / 7")).to_be_visible()
        before = page.evaluate("window.__played.length")
        page.get_by_role("button", name="Nghe câu hỏi").click()
        _wait(page, f"window.__played.length > {before}", 15)
        assert not page.evaluate(f"{AUDIO}.paused")
        sources.add(page.evaluate(f"{AUDIO}.currentSrc"))
        if page.locator(".kiosk-next").count():
            page.locator(".kiosk-next").click()  # the comment: sent empty
        else:
            page.locator(".kiosk-option").first.click()
        _wait(page, f"{AUDIO}.paused", 5)
    expect(page.get_by_role("heading", name="Xin cảm ơn!")).to_be_visible()
    assert len(sources) == 7  # one recording per question, each from the service worker's cache
    context.set_offline(False)


def test_a_device_voice_reads_the_question_then_its_options(page: Page, context: BrowserContext, live_server):
    context.add_init_script(DEVICE_VOICE)
    live_server.enrol_kiosk(context)
    page.goto("/kiosk")
    page.get_by_role("button", name="Bắt đầu").click()
    question = page.locator(".kiosk-question").inner_text()
    page.get_by_role("button", name="Nghe câu hỏi").click()
    said = page.evaluate("window.__said")
    options = page.locator(".kiosk-option .kiosk-option-label").all_inner_texts()
    assert [s["text"].rstrip(".?") for s in said] == [t.rstrip(".?") for t in (question, *options)]
    assert all(s["lang"] == "vi-VN" and s["volume"] == pytest.approx(0.8) for s in said)
    assert page.evaluate("window.__played.length") == 0  # the server's audio is not needed
    page.get_by_role("button", name="Không hài lòng", exact=True).click()
    assert page.evaluate("window.speechSynthesis.cancelled") >= 1


def test_the_idle_reset_stops_the_reading(page: Page, context: BrowserContext, live_server, live_config):
    live_config["HAILONG_KIOSK_IDLE_SECONDS"] = 3  # each recording lasts longer than that
    context.add_init_script(NO_DEVICE_VOICE)
    live_server.enrol_kiosk(context)
    page.goto("/kiosk")
    page.get_by_role("button", name="Bắt đầu").click()
    page.get_by_role("button", name="Nghe câu hỏi").click()
    _audio_playing(page)
    expect(page.get_by_role("button", name="Bắt đầu")).to_be_visible(timeout=10000)  # back to the welcome screen
    assert page.evaluate(f"{AUDIO}.paused")
    expect(page.locator("html")).to_have_attribute("data-speech", "idle")
