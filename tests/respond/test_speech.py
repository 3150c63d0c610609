"""'Nghe câu hỏi' on the kiosk (issue 15 §2): the server's espeak-ng audio of every kiosk question, made when a
version is published, served to the kiosk page, and nothing breaks where espeak-ng is missing.

On SQLite and PostgreSQL.  Without espeak-ng these skip, except in CI, where scripts/test.sh installs it."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import select

from questionnaires.loader import load_dict, load_shipped
from survey.demo.load import ensure_questionnaires
from survey.ops.doctor import OK, WARN, check_speech
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.questionnaire_versions.service import store_questionnaire
from survey.respond import speech
from survey.respond.kiosk_auth import COOKIE
from tests.factories import small_city
from tests.respond.kiosk_factories import enrolled_kiosk


@pytest.fixture
def audio_dir(app, tmp_path) -> Path:
    """An empty audio folder for this test (the instance folder's files must not hide a missing one)."""
    app.config["HAILONG_SPEECH_DIR"] = str(tmp_path / "speech")
    return tmp_path / "speech"


@pytest.fixture
def engine() -> str:
    found = shutil.which("espeak-ng")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("espeak-ng must be installed in CI (scripts/test.sh installs it)")
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return found


def _kiosk_versions(session) -> list[QuestionnaireVersion]:
    instruments = speech.kiosk_instruments(session)
    return [qv for qv in session.scalars(select(QuestionnaireVersion).where(QuestionnaireVersion.status == "published"))
            if "kiosk" in qv.definition or qv.instrument in instruments]


def _speaks(path: Path, words: int) -> None:
    """The file is audio of about the length of its text: not silent, not cut short, not padded."""
    samples, rate = sf.read(path, dtype="float32")
    seconds = len(samples) / rate
    assert 1.5 <= words / seconds <= 4.0, (words, seconds)  # Vietnamese: ~2.5 syllables a second at 140 wpm
    assert float(np.sqrt(np.mean(samples**2))) > 0.01


def test_every_item_of_every_published_kiosk_questionnaire_has_vietnamese_audio(app, db_session, client,
                                                                                audio_dir, engine):
    ensure_questionnaires(db_session)  # the demo's instruments, published
    db_session.commit()  # publishing made the audio: nobody asked for it
    versions = _kiosk_versions(db_session)
    assert {qv.label for qv in versions} >= {"counter-quick v1", "counter-quick v2", "counter-quick v3"}
    for qv in versions:
        q = load_dict(qv.definition)
        for item in q.kiosk_items():
            parts = speech.item_parts(item, "vi")
            name = speech.ensure_audio(app, parts, "vi", make=False)
            assert name is not None, f"{qv.label} {item.code} has no Vietnamese audio"
            _speaks(audio_dir / name, len(speech.spoken_text(parts).split()))
            served = client.get(f"/kiosk/speech/{name}")
            assert served.status_code == 200 and served.mimetype == "audio/ogg"
            assert "immutable" in served.headers["Cache-Control"]
            assert served.data == (audio_dir / name).read_bytes()
            served.close()


def test_what_is_read_is_the_question_then_its_answers_in_screen_order():
    item = load_shipped("counter-quick", 3).item("C.ATT")
    parts = speech.item_parts(item, "vi")
    assert parts[0] == item.text.vi  # a question mark already ends it
    assert [p.rstrip(".") for p in parts[1:]] == [level.label.vi for level in item.scale.levels]


@pytest.fixture
def kiosk_client(client, db_session):
    small_city(db_session)
    _, credential = enrolled_kiosk(db_session)
    client.set_cookie(COOKIE, credential)
    return client


def _data(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="kiosk-data">(.*?)</script>', html, re.S)[1])


def test_the_kiosk_page_offers_listen_on_every_question(kiosk_client, audio_dir, engine):
    page = kiosk_client.get("/kiosk")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # the listen script is loaded before kiosk.js, which announces every screen to it
    assert html.index("js/kiosk_speech.js") < html.index("js/kiosk.js")
    data = _data(html)
    assert data["speech"]["strings"]["vi"]["listen"] == "Nghe câu hỏi"
    assert data["speech"]["strings"]["en"]["listen"] == "Listen to the question"
    scope = data["sw"]["scope"]
    for item in data["questionnaire"]["items"]:
        entry = data["speech"]["items"]["vi"][item["code"]]
        assert entry["parts"][0].rstrip(".") == item["text"]["vi"].rstrip(".")  # a sentence end makes a pause
        # a file of the service worker's scope, which it keeps for offline use (tests/browser/test_kiosk_speech.py)
        assert entry["audio"].startswith(scope + "/speech/")
        served = kiosk_client.get(entry["audio"])
        served.close()
        assert served.status_code == 200
    # the service worker keeps the script for an offline start
    worker = kiosk_client.get(data["sw"]["url"]).get_data(as_text=True)
    assert "js/kiosk_speech.js" in worker and "hailong-speech-cache" in worker


def test_audio_answers_a_media_player_range_and_revalidation(kiosk_client, audio_dir, engine):
    """Browsers fetch audio in byte ranges and may drop the request half-way; revalidation costs no body."""
    data = _data(kiosk_client.get("/kiosk").get_data(as_text=True))
    url = next(iter(data["speech"]["items"]["vi"].values()))["audio"]
    whole = kiosk_client.get(url)
    body, etag = whole.data, whole.headers["ETag"]
    assert whole.headers["Accept-Ranges"] == "bytes" and body[:4] == b"OggS"
    part = kiosk_client.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.data == body[:100]
    assert part.headers["Content-Range"] == f"bytes 0-99/{len(body)}"
    again = kiosk_client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    longer = kiosk_client.get(url, headers={"Range": f"bytes=-{len(body) + 5000}"})  # the last N > length bytes
    assert longer.status_code in (200, 206) and longer.data == body
    beyond = kiosk_client.get(url, headers={"Range": f"bytes={len(body) + 10}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(body)}"


@pytest.mark.parametrize("setting", ["off", "/nonexistent/espeak-ng"])
def test_without_espeak_the_kiosk_uses_device_voices_only(kiosk_client, app, audio_dir, setting):
    app.config["HAILONG_SPEECH_ENGINE"] = setting
    page = kiosk_client.get("/kiosk")
    assert page.status_code == 200
    items = _data(page.get_data(as_text=True))["speech"]["items"]["vi"]
    assert items and all(e["audio"] is None and e["parts"] for e in items.values())
    assert not audio_dir.exists() or not any(audio_dir.iterdir())
    check = check_speech(app)
    assert check.status == WARN and "apt install espeak-ng" in check.fix


def test_doctor_names_the_languages_espeak_speaks(app, engine):
    check = check_speech(app)
    assert check.status == OK and "vi" in check.message
    if speech.voice_for(engine, "km") is None:  # espeak-ng 1.51 (Debian 12) has no Khmer voice
        assert "none for km" in check.message


@pytest.mark.parametrize("name", ["..%2Fsecret_key", "secret_key", "abc.ogg", "0" * 64 + ".mp3", "0" * 64 + ".ogg"])
def test_only_made_audio_files_are_served(client, audio_dir, name):
    audio_dir.mkdir(parents=True)
    (audio_dir / "secret_key").write_text("not for you")
    assert client.get(f"/kiosk/speech/{name}").status_code == 404


def test_a_draft_has_no_audio_until_it_is_published(app, db_session, audio_dir, engine):
    q = load_shipped("counter-quick", 3)
    record = store_questionnaire(db_session, q, status="draft").record
    db_session.commit()
    assert not audio_dir.exists() or not any(audio_dir.iterdir())
    record.status = "published"  # as the admin page publishes it
    db_session.commit()
    for item in q.kiosk_items():
        assert speech.ensure_audio(app, speech.item_parts(item, "vi"), "vi", make=False) is not None


def test_speech_build_makes_the_audio_of_versions_published_before(app, db_session, runner, audio_dir, engine):
    app.config["HAILONG_SPEECH_ENGINE"] = "off"
    ensure_questionnaires(db_session)
    db_session.commit()
    assert not audio_dir.exists()
    assert runner.invoke(args=["speech", "build"]).exit_code != 0  # says espeak-ng is missing
    app.config["HAILONG_SPEECH_ENGINE"] = engine
    result = runner.invoke(args=["speech", "build"])
    assert result.exit_code == 0, result.output
    assert "counter-quick v3: vi 7, en 7 items with audio" in result.output
    q = load_shipped("counter-quick", 3)
    for item in q.kiosk_items():
        assert speech.ensure_audio(app, speech.item_parts(item, "vi"), "vi", make=False) is not None
