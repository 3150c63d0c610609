"""Questions read aloud on the kiosk (issue 15 §2): the audio the server makes with espeak-ng.

The kiosk speaks with the device's own speech synthesis when it has an offline voice for the language; many
kiosk tablets have none for Vietnamese (or Khmer), so the server also makes one audio file per kiosk item and
language, reading the question and then its options.  Files are named by a hash of what they say and how
(engine, voice, rate, format), so they never go stale, are shared by versions with the same wording and may
be cached forever by browsers and by the kiosk's service worker, which fetches them in advance (offline use).

They are made when a version is published (an ORM hook: every way of publishing is covered), when a kiosk
page finds one missing (versions published before this existed, another server's instance folder), and by
`flask speech build`.  Without espeak-ng (or with HAILONG_SPEECH_ENGINE=off) nothing is made and the kiosk
uses the device's voices only; `flask doctor` says so.  espeak-ng 1.51 has voices for vi and en, none for km.

Audio is Ogg Vorbis at espeak-ng's 22.05 kHz (~27 kbit/s, a thirteenth of its WAV; Chromium, Firefox and
Android play it) through soundfile (libsndfile, bundled in its wheels); WAV when soundfile cannot load.  Ogg
Opus would be a third smaller, but libsndfile's Opus encoder took ten times longer and needs resampling.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
from flask import Blueprint, Flask, abort, current_app, has_app_context, request, url_for
from flask.cli import AppGroup
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wrappers import Response

from questionnaires.loader import load_dict
from questionnaires.model import Item, Questionnaire, text
from survey.extensions import db
from survey.questionnaire_versions.models import QuestionnaireVersion

log = logging.getLogger(__name__)

DEFAULT_ENGINE = "espeak-ng"
DEFAULT_RATE = 140  # words per minute: espeak-ng's 175 is quick for the elderly citizens this is for
VOICES = {"vi": "vi", "en": "en", "km": "km"}  # our language → espeak-ng voice (km: none in espeak-ng 1.51)
LANGS = tuple(VOICES)
VORBIS_COMPRESSION = 0.9  # libsndfile's 0 (best quality) … 1 (smallest): clear speech at ~27 kbit/s
NAME = re.compile(r"[0-9a-f]{64}\.(?:ogg|wav)")
TIMEOUT_SECONDS = 60
DEFAULT_VOLUME = 0.8  # of the device's volume; the citizen can turn it up or down, the next one starts here
FORMAT_VERSION = "1"  # bump to remake every file (a change in how text is turned into audio)


class SpeechError(RuntimeError):
    """espeak-ng failed on a text (reported; the kiosk falls back to the device's voice)."""


# ---------------------------------------------------------------- what is read


def _sentence(s: str) -> str:
    s = " ".join(s.split())
    return s if not s or s[-1] in ".?!:;…" else s + "."


def item_parts(item: Item, lang: str) -> list[str]:
    """What "Listen" reads for one kiosk item: the question, then each answer it offers, in screen order."""
    parts = [text(item, lang)]
    if item.scale is not None:
        parts += [text(level, lang) for level in item.scale.levels]
        if item.scale.no_opinion is not None:
            parts.append(item.scale.no_opinion.get(lang))
    parts += [text(option, lang) for option in item.options]
    return [_sentence(p) for p in parts if p and p.strip()]


def spoken_text(parts: Iterable[str]) -> str:
    """One line per part: espeak-ng pauses at each sentence end."""
    return "\n".join(parts)


# ---------------------------------------------------------------- the engine


def _setting(app: Flask, name: str, default: Any) -> Any:
    value = app.config.get(name)
    return default if value in (None, "") else value


def engine_path(app: Flask) -> str | None:
    """The espeak-ng executable, or None when it is missing or switched off (HAILONG_SPEECH_ENGINE=off)."""
    engine = str(_setting(app, "HAILONG_SPEECH_ENGINE", DEFAULT_ENGINE))
    if engine.lower() in ("off", "none", "0"):
        return None
    return shutil.which(engine)


@functools.lru_cache(maxsize=8)
def engine_languages(engine: str) -> frozenset[str]:
    """Languages espeak-ng has a voice for (`espeak-ng --voices`), e.g. {"vi", "vi-vn-x-south", "en-gb", …}."""
    try:
        out = subprocess.run([engine, "--voices"], capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.split()[1].lower() for line in out.splitlines()[1:] if len(line.split()) > 1)


def voice_for(engine: str, lang: str) -> str | None:
    """The espeak-ng voice for one of our languages, None when the engine has none (Khmer)."""
    voice = VOICES.get(lang)
    langs = engine_languages(engine)
    if voice and any(v == voice or v.startswith(voice + "-") for v in langs):
        return voice
    return None


@functools.lru_cache(maxsize=1)
def _soundfile() -> Any:
    try:
        import soundfile  # type: ignore[import-untyped]

        if "VORBIS" in soundfile.available_subtypes("OGG"):
            return soundfile
    except (ImportError, OSError):  # no wheel for this platform, or libsndfile missing
        pass
    return None


def audio_extension() -> str:
    return "ogg" if _soundfile() is not None else "wav"


def audio_name(spoken: str, voice: str, rate: int) -> str:
    """The file's name: a hash of everything that decides its sound, so a name never changes meaning."""
    key = "\x00".join((FORMAT_VERSION, voice, str(rate), audio_extension(), spoken))
    return hashlib.sha256(key.encode("utf-8")).hexdigest() + "." + audio_extension()


def synthesize(engine: str, voice: str, rate: int, spoken: str) -> bytes:
    """WAV bytes of `spoken` (the text goes through stdin, never the command line)."""
    try:
        done = subprocess.run([engine, "-v", voice, "-s", str(rate), "-b", "1", "--stdin", "--stdout"],
                              input=spoken.encode("utf-8"), capture_output=True, timeout=TIMEOUT_SECONDS)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SpeechError(f"{engine} did not run: {exc}") from exc
    if done.returncode != 0 or not done.stdout.startswith(b"RIFF"):
        raise SpeechError(f"{engine} failed ({done.returncode}): {done.stderr.decode(errors='replace')[:200]}")
    return done.stdout


def encode(wav: bytes) -> bytes:
    """Ogg Vorbis when soundfile is available (browsers play it; a thirteenth of the size), else the WAV."""
    sf = _soundfile()
    if sf is None:
        return wav
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    out = io.BytesIO()
    sf.write(out, samples, rate, format="OGG", subtype="VORBIS", compression_level=VORBIS_COMPRESSION)
    return out.getvalue()


# ---------------------------------------------------------------- the cache


def speech_dir(app: Flask) -> Path:
    return Path(_setting(app, "HAILONG_SPEECH_DIR", Path(app.config.get("HAILONG_INSTANCE") or "instance") / "speech"))


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as fh:
        fh.write(data)
    os.replace(fh.name, path)  # several workers may make the same file: each replaces it whole


def ensure_audio(app: Flask, parts: list[str], lang: str, make: bool = True) -> str | None:
    """The file name of `parts` read in `lang`, made now if missing (unless `make` is false); None when there
    is no such file and no engine or voice can make it."""
    engine = engine_path(app)
    voice = voice_for(engine, lang) if engine else None
    if engine is None or voice is None or not parts:
        return None
    rate = int(_setting(app, "HAILONG_SPEECH_RATE", DEFAULT_RATE))
    spoken = spoken_text(parts)
    name = audio_name(spoken, voice, rate)
    path = speech_dir(app) / name
    if not path.exists():
        if not make:
            return None
        try:
            _write_atomically(path, encode(synthesize(engine, voice, rate, spoken)))
        except (SpeechError, OSError, RuntimeError) as exc:
            log.warning("speech: no audio for a %s text: %s", lang, exc)
            return None
    return name


def version_audio(app: Flask, q: Questionnaire, langs: Iterable[str] = LANGS) -> dict[str, dict[str, str]]:
    """{lang: {item code: file name}} for every kiosk item of `q`, making what is missing."""
    out: dict[str, dict[str, str]] = {}
    for lang in langs:
        names = {item.code: ensure_audio(app, item_parts(item, lang), lang) for item in q.kiosk_items()}
        found = {code: name for code, name in names.items() if name}
        if found:
            out[lang] = found
    return out


def kiosk_speech_data(q: Questionnaire, langs: Iterable[str]) -> dict[str, Any]:
    """For the kiosk page: per language and item, what to read (device voice) and the audio file's URL."""
    app: Any = current_app._get_current_object()  # type: ignore[attr-defined]
    langs = tuple(langs)
    audio = version_audio(app, q, langs)
    items: dict[str, dict[str, Any]] = {}
    for lang in langs:
        items[lang] = {}
        for item in q.kiosk_items():
            name = audio.get(lang, {}).get(item.code)
            items[lang][item.code] = {"parts": item_parts(item, lang),
                                      "audio": url_for("speech.audio", name=name) if name else None}
    strings = {}
    for lang in langs:
        with force_locale(lang):
            strings[lang] = {"listen": _("Listen to the question"), "stop": _("Stop reading"),
                             "again": _("Listen again"), "quieter": _("Quieter"), "louder": _("Louder"),
                             "volume": _("Volume %(n)s%%", n="{n}")}
    return {"items": items, "strings": strings, "volume": DEFAULT_VOLUME}


# ---------------------------------------------------------------- served

bp = Blueprint("speech", __name__)
YEAR = 365 * 24 * 3600


@bp.route("/kiosk/speech/<name>")
def audio(name: str) -> Response:
    """A made audio file (never made on request: a URL cannot make the server run espeak-ng)."""
    if not NAME.fullmatch(name):
        abort(404)
    try:
        # Read whole (a few KB): a streamed file is left open when the browser drops a media request half-way.
        data = (speech_dir(current_app) / name).read_bytes()
    except FileNotFoundError:
        abort(404)
    resp = Response(data, mimetype="audio/ogg" if name.endswith(".ogg") else "audio/wav")
    resp.set_etag(name.partition(".")[0])
    resp.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"  # the name is a hash of the content
    asked = request.range
    if asked is not None and len(asked.ranges) == 1 and asked.ranges[0][0] < -len(data) and asked.ranges[0][1] is None:
        # "the last N bytes" with N beyond the file means the whole file (RFC 9110 §14.1.3), not 416
        return resp.make_conditional(request.environ | {"HTTP_RANGE": "bytes=0-"}, accept_ranges=True,
                                     complete_length=len(data))
    try:
        return resp.make_conditional(request, accept_ranges=True, complete_length=len(data))
    except RequestedRangeNotSatisfiable:
        # answered here: the site's error page would drop the Content-Range a media player needs
        return Response(status=416, headers={"Content-Range": f"bytes */{len(data)}", "Accept-Ranges": "bytes"})


# ---------------------------------------------------------------- made when published


def kiosk_instruments(session: Session) -> set[str]:
    """Instruments kiosks show: the service points' choices and counter-quick, the default."""
    from survey.org.models import ServicePoint

    chosen = session.scalars(select(ServicePoint.kiosk_instrument).where(ServicePoint.kiosk_instrument.isnot(None)))
    return {"counter-quick", *chosen}


def _is_kiosk_questionnaire(definition: dict[str, Any], instruments: set[str]) -> bool:
    return "kiosk" in definition or definition.get("id") in instruments


@event.listens_for(Session, "after_flush")
def _note_published(session: Session, _context: Any) -> None:
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, QuestionnaireVersion) and obj.status == "published" and isinstance(obj.definition, dict):
            session.info.setdefault("speech_pending", []).append(obj.definition)


@event.listens_for(Session, "after_rollback")
def _forget_published(session: Session) -> None:
    session.info.pop("speech_pending", None)


@event.listens_for(Session, "after_commit")
def _make_published_audio(session: Session) -> None:
    pending = session.info.pop("speech_pending", None)
    if not pending or not has_app_context():
        return
    app: Any = current_app._get_current_object()  # type: ignore[attr-defined]
    if engine_path(app) is None:
        return
    for definition in pending:
        if not _is_kiosk_questionnaire(definition, {"counter-quick"}):
            continue  # other instruments chosen for kiosks: made by their first kiosk page or the command
        try:
            version_audio(app, load_dict(definition, source="published"))
        except Exception as exc:  # never let audio break publishing
            log.warning("speech: audio for %s not made: %s", definition.get("id"), exc)


# ---------------------------------------------------------------- command line

speech_cli = AppGroup("speech", help="Audio of the kiosk questions (read aloud with espeak-ng).")


@speech_cli.command("build")
def build_command() -> None:
    """Make the audio of every published kiosk questionnaire version that lacks it."""
    app: Any = current_app._get_current_object()  # type: ignore[attr-defined]
    engine = engine_path(app)
    if engine is None:
        raise click.ClickException("espeak-ng is not installed (apt-get install espeak-ng) or is switched off")
    instruments = kiosk_instruments(db.session())
    versions = db.session.scalars(select(QuestionnaireVersion).where(QuestionnaireVersion.status == "published"))
    for qv in versions:
        if not _is_kiosk_questionnaire(qv.definition, instruments):
            continue
        audio = version_audio(app, load_dict(qv.definition, source=f"db:{qv.label}"))
        counts = ", ".join(f"{lang} {len(names)}" for lang, names in audio.items()) or "none"
        click.echo(f"{qv.label}: {counts} items with audio")
    missing = [lang for lang in LANGS if voice_for(engine, lang) is None]
    if missing:
        click.echo(f"no espeak-ng voice for: {', '.join(missing)} (the kiosk uses the device's voice there)")
