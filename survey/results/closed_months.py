"""Totals of months that did not change, kept across requests: a live request rebuilds only what its new
responses touch.

WHY: the results cache (survey/results/cache.py) keys every figure on the data version — the newest response
— so on a live national page (new responses between requests) every totals of the page was built again from
every month of its periods: the trend's eight quarters, the comparison, the whole, the change (43–96 s of CPU
at 10 M responses).  But a totals of the counters design (survey/results/month_pass.py) depends only on the
cells of its own months (their Gram sums and item statistics), on each stratum's n_h over those months
(`response_tally`, the same months), on the tree and on the questionnaire versions: a new response in December
leaves the totals of every earlier quarter as they were.

So the month pass's totals are kept here under the selection, the domain and the VERSION OF EACH OF THEIR
MONTHS (`totals.month_versions`: responses per month, whole city, any channel — responses are only added, so a
month's count changes whenever its data does), plus the tally revision (removals, quarantine) and the tree
revision.  A hit is the very object the pass built from the same data: the same figures, not a recomputation.

Two kinds of entry, both bounded by `HAILONG_CLOSED_MONTHS_MB` (default 512 MB per process, least recently
used first out):
- finished totals (`ClusterTotals`) of a need whose months are all unchanged (`totals_for` / `keep_totals`);
- a period range's integer sums over its CLOSED months — every month but the newest — (`range_base` /
  `keep_range_base`): the per-service-point Gram sums and item statistics, int64, so adding the newest month to
  them gives exactly the sums of all months; a live request then decodes one month instead of the range;
- a range's sums over ALL its months with the newest month's watermark (month_pass `_Open`): a live request
  replaces only the rows of the service points whose cells changed (month_cells.month_delta), reading a few
  cells instead of the newest month.  Bases and open months are kept only for ranges that end in the newest
  month with data (the month that receives responses): a page's trend builds seven older quarters whose
  finished totals are kept anyway, and their bases evicted the current range's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

#: a national range's closed months are 10,011 service points × 3,570 Gram entries (int32: 143 MB)
DEFAULT_MB = 512
_lock = threading.Lock()
_entries: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
_held = 0
STATS = {"hit": 0, "miss": 0}


def budget_bytes() -> int:
    try:
        from flask import current_app

        mb = current_app.config.get("HAILONG_CLOSED_MONTHS_MB", DEFAULT_MB)
    except RuntimeError:
        mb = DEFAULT_MB
    return int(float(mb) * 2**20)


def _enabled() -> bool:
    from survey.results.cache import enabled

    return enabled() and budget_bytes() > 0


def data_key(session: Session, months: dict[Any, int]) -> tuple[Any, ...]:
    """What a totals over `months` (month → its version) depends on besides its selection and domain."""
    from survey.results.cache import tally_revision
    from survey.results.tree import tree_revision

    return (str(session.get_bind().engine.url), tally_revision(session), tree_revision(session),
            tuple(sorted(months.items())))


def nbytes(value: Any, depth: int = 0) -> int:
    """Approximate memory of arrays, frames and dataclasses of them."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(deep=True).sum())
    if isinstance(value, (pd.Series, pd.Index)):
        return int(value.memory_usage(deep=True))
    if depth > 3:
        return 64
    if is_dataclass(value) and not isinstance(value, type):
        return 64 + sum(nbytes(getattr(value, f.name), depth + 1) for f in fields(value))
    if isinstance(value, dict):
        return 64 + sum(nbytes(k, depth + 1) + nbytes(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return 64 + sum(nbytes(v, depth + 1) for v in value)
    return 64


def get(key: Any) -> Any | None:
    if not _enabled():
        return None
    with _lock:
        hit = _entries.get(key)
        if hit is not None:
            _entries.move_to_end(key)
        STATS["hit" if hit is not None else "miss"] += 1
    return None if hit is None else hit[0]


def take(key: Any) -> Any | None:
    """get and forget: the caller changes the value in place and puts it back (a range's open month,
    survey/results/month_pass.py) — meanwhile another thread does not find it and builds its own."""
    global _held
    if not _enabled():
        return None
    with _lock:
        hit = _entries.pop(key, None)
        if hit is not None:
            _held -= hit[1]
        STATS["hit" if hit is not None else "miss"] += 1
    return None if hit is None else hit[0]


def put(key: Any, value: Any, size: int | None = None) -> None:
    global _held
    if not _enabled():
        return
    size = nbytes(value) if size is None else size
    limit = budget_bytes()
    if size > limit:
        return
    with _lock:
        old = _entries.pop(key, None)
        if old is not None:
            _held -= old[1]
        _entries[key] = (value, size)
        _held += size
        while _held > limit and _entries:
            _, (_, gone) = _entries.popitem(last=False)
            _held -= gone


def drop(match: Any) -> None:
    """Forget the entries whose key starts with `match` (a range's older base once a newer one is kept)."""
    global _held
    with _lock:
        for key in [k for k in _entries if k[: len(match)] == match]:
            _held -= _entries.pop(key)[1]


def clear() -> None:
    global _held
    from survey.results import cell_counts, protection

    with _lock:
        _entries.clear()
        _held = 0
    cell_counts.clear_kept()  # the protection's kept answers and decisions (survey/results/cell_counts.py,
    protection.clear_kept()  # protection.py) go with them
