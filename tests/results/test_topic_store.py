"""Comment topics kept on disk (survey/results/topic_store.py): a restarted process counts the topics of the
comments an earlier process classified without classifying them again, and the counts are exactly those of
classifying them (issue 14 §4: the first page after a restart).

A "restart" is simulated by emptying every in-memory cache of the topics (the per-text memo, the store's
memory); the disk folder stays, as it does across a restart.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select

import analysis.topics as classifier
from survey.respond.models import Comment
from survey.results import topic_store, topics
from tests.results.factories import city_with_responses

ROOT = Path(__file__).resolve().parents[2]


def _restart() -> None:
    topics._topics.cache_clear()
    topics._load.cache_clear()
    topic_store.clear()


def _labelled_texts() -> list[str]:
    """Hand-written comments with varied topics (tests/data), beside the demo's few wordings."""
    out = []
    for f in sorted((ROOT / "tests" / "data").glob("comments-topics-vi*.tsv")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#") and "\t" in line:
                out.append(line.split("\t")[-1])
    return out[:300]


@pytest.fixture
def texts(db_session):
    city_with_responses(db_session, per_point=10)
    stored = list(db_session.scalars(select(Comment.text)))
    assert stored, "the demo city has comments"
    return stored + _labelled_texts()


@pytest.fixture
def calls(monkeypatch):
    """How many texts the classifier itself was asked about."""
    seen: list[str] = []
    real = classifier.classify

    def spy(text, lex):
        seen.append(text)
        return real(text, lex)

    monkeypatch.setattr(topics, "classify", spy)
    return seen


def _counts(texts: list[str], folder: str) -> tuple[int, dict[str, int], list[frozenset[str]]]:
    current_app.config["HAILONG_MONTH_CELLS_DIR"] = folder
    _restart()
    lex = topics.lexicon(current_app.instance_path)
    total, counts = topics.topic_counts(texts, lex)
    return total, counts, [topics.topics_of(t, lex) for t in texts]


def test_a_restarted_process_counts_topics_from_disk_exactly(app, texts, calls, tmp_path, monkeypatch):
    monkeypatch.setitem(current_app.config, "HAILONG_MONTH_CELLS_DIR", "off")
    plain = _counts(texts, "off")  # no store at all: every text classified
    calls.clear()
    first = _counts(texts, str(tmp_path))  # the process before the restart classifies and writes
    assert len(set(calls)) == len(set(texts))
    assert list(tmp_path.glob("topics-*/*.npz")), "the classifications were written"
    calls.clear()
    again = _counts(texts, str(tmp_path))  # after the restart
    assert calls == [], "a restarted process classified comments an earlier one had classified"
    assert again == first == plain
    assert sum(plain[1].values()) > 0, "the comments raise topics (the comparison is not of zeros)"


def test_an_edited_lexicon_classifies_again(app, texts, calls, tmp_path, monkeypatch):
    # an instance folder of its own: the shared one is read by tests running at the same time in other workers
    monkeypatch.setattr(app, "instance_path", str(tmp_path / "instance"))
    own = Path(current_app.instance_path) / topics.INSTANCE_FILE
    monkeypatch.setitem(current_app.config, "HAILONG_MONTH_CELLS_DIR", str(tmp_path))
    Path(current_app.instance_path).mkdir(parents=True, exist_ok=True)
    shutil.copy(classifier.DEFAULT_LEXICON, own)
    try:
        before = _counts(texts, str(tmp_path))
        # the administrator drops the negators: stored results of the old lexicon must not be used
        text = own.read_text(encoding="utf-8")
        line = next(x for x in text.splitlines() if x.startswith("negators:"))
        own.write_text(text.replace(line, "negators: []"), encoding="utf-8")
        calls.clear()
        after = _counts(texts, str(tmp_path))
        assert len(set(calls)) == len(set(texts)), "the edited lexicon's topics were taken from the old one's"
        current_app.config["HAILONG_MONTH_CELLS_DIR"] = "off"
        _restart()
        assert after == _counts(texts, "off")
        assert after != before  # the edit changed what is counted: the test can tell the two apart
    finally:
        own.unlink(missing_ok=True)
        _restart()


def test_a_broken_file_in_the_store_is_only_slower(app, texts, tmp_path, monkeypatch):
    monkeypatch.setitem(current_app.config, "HAILONG_MONTH_CELLS_DIR", str(tmp_path))
    first = _counts(texts, str(tmp_path))
    files = list(tmp_path.glob("topics-*/*.npz"))
    for f in files:  # one not a NumPy file, the other cut short (a file still being written by another worker)
        data = f.read_bytes()
        f.write_bytes(b"not a numpy file")
        f.with_suffix(".tmp.npz").write_bytes(data[: len(data) // 2])
        (f.parent / "cut.npz").write_bytes(data[: len(data) // 2])
    assert _counts(texts, str(tmp_path)) == first
    _restart()
