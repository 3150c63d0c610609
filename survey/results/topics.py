"""Topics of citizens' comments for the dashboards: the classifier of analysis/topics.py applied to the
stored (already redacted) comment texts.

Topics are computed when a page asks, not stored: an administrator's edit of the lexicon applies at once
to every comment, old ones too.  The lexicon is `<instance folder>/topics-vi.yaml` when that file exists (an
administrator's edited copy, checked with `python -m analysis topics check FILE`), otherwise the one shipped
in analysis/lexicons/.  A broken instance copy falls back to the shipped lexicon (logged), never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from pathlib import Path

from analysis.topics import DEFAULT_LEXICON, Lexicon, LexiconError, classify, load_lexicon
from analysis.topics import rising as rising  # re-exported: dashboard/ reads analysis only through results/
from survey.results import topic_store

log = logging.getLogger(__name__)
INSTANCE_FILE = "topics-vi.yaml"


@lru_cache(maxsize=8)
def _load(path: str, stamp: tuple[int, ...]) -> Lexicon:
    lex = load_lexicon(path)
    topic_store.register(lex, Path(path), _watched(Path(path)))  # classifications kept on disk (issue 14 §4)
    return lex


def _watched(path: Path) -> list[Path]:
    """The learned-weights files a lexicon may name (beside it or shipped)."""
    files = sorted(path.parent.glob("*.tsv"))
    if path.parent != DEFAULT_LEXICON.parent:
        files += sorted(DEFAULT_LEXICON.parent.glob("*.tsv"))
    return files


def _stamp(path: Path) -> tuple[int, ...]:
    """When the lexicon or a learned-weights file it may name (beside it or shipped) last changed: editing
    the weights alone applies at once too (the key was the YAML file's time only)."""
    return tuple(f.stat().st_mtime_ns for f in [path, *_watched(path)])


def lexicon(instance_path: str | None = None) -> Lexicon:
    """The lexicon in force: the instance copy if present and valid (re-read when it changes), else shipped."""
    if instance_path:
        own = Path(instance_path) / INSTANCE_FILE
        if own.is_file():
            try:
                return _load(str(own), _stamp(own))
            except (OSError, LexiconError) as exc:
                log.error("comment topics: %s is not usable (%s); using the shipped lexicon", own, exc)
    return _load(str(DEFAULT_LEXICON), _stamp(DEFAULT_LEXICON))


@lru_cache(maxsize=200_000)
def _topics(text: str, lex: Lexicon) -> frozenset[str]:
    return topic_store.classified(text, lex, classify)  # a restarted worker reads earlier processes' results


def topics_of(text: str, lex: Lexicon) -> frozenset[str]:
    """The topics of one comment (cached by text: pages re-count the same comments)."""
    return _topics(text, lex)


def topic_counts(texts: Iterable[str], lex: Lexicon) -> tuple[int, dict[str, int]]:
    """(number of comments, comments per topic); a comment with several topics counts once under each."""
    total = 0
    counts = dict.fromkeys(lex.codes, 0)
    for text in texts:
        total += 1
        for code in topics_of(text, lex):
            counts[code] += 1
    topic_store.flush()
    return total, counts


def trend_kind(first: date, last: date) -> str:
    """Months while the period shown spans at most a year, else quarters (a table stays readable)."""
    return "month" if (last.year - first.year) * 12 + last.month - first.month < 12 else "quarter"


def topic_trend(rows: Iterable[tuple[date, str]], lex: Lexicon, kind: str, first: date | None = None,
                last: date | None = None) -> dict[str, tuple[int, dict[str, int]]]:
    """Per period label (2025-03 or 2025-Q1, in time order): (comments, comments per topic).  Every period
    from `first` to `last` is there, with zeros when nobody commented: a gap must not read as a trend."""
    from survey.results.totals import period_label

    by_period: dict[str, list[str]] = {}
    if first and last:
        month = date(first.year, first.month, 1)
        while month <= last:
            by_period.setdefault(period_label(month, kind), [])
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    for period, text in rows:
        by_period.setdefault(period_label(period, kind), []).append(text)
    return {label: topic_counts(by_period[label], lex) for label in sorted(by_period)}
