"""A small LRU of computed results, keyed by the request parameters and the data's version.

The version is the newest response (id and received_at: one index lookup), so any stored response — or a
bulk load — makes earlier entries unreachable; the database URL keeps test databases apart.  Set
HAILONG_RESULTS_CACHE=0 (app config) to disable.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Any, TypeVar

from sqlalchemy import select

from survey.respond.models import Response

T = TypeVar("T")
MAX_ENTRIES = 1024
_entries: OrderedDict[Hashable, Any] = OrderedDict()
_lock = Lock()


def data_version(session: Any) -> tuple[Any, ...]:
    row = session.execute(select(Response.id, Response.received_at).order_by(Response.id.desc()).limit(1)).first()
    return (str(session.get_bind().url), None if row is None else (row[0], row[1]))


def _enabled() -> bool:
    try:
        from flask import current_app

        return bool(current_app.config.get("HAILONG_RESULTS_CACHE", True))
    except RuntimeError:
        return True


def cached(session: Any, key: Hashable, compute: Callable[[], T]) -> T:
    """compute() once per (key, data version); the result is shared: callers must not mutate it."""
    if not _enabled():
        return compute()
    full = (key, data_version(session))
    with _lock:
        if full in _entries:
            _entries.move_to_end(full)
            return _entries[full]
    value = compute()
    with _lock:
        _entries[full] = value
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    with _lock:
        _entries.clear()


def per_request(key: Hashable, compute: Callable[[], T]) -> T:
    """compute() once per HTTP request (the tree and questionnaire lookups a page repeats); always fresh
    outside a request."""
    try:
        from flask import has_request_context, request

        if not has_request_context():
            return compute()
        memo = request.environ.setdefault("hailong.results.memo", {})
    except RuntimeError:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def month_chunks(session: Any, key: Hashable, versions: dict[Any, int],
                 query: Callable[[list[Any]], Any]) -> Any:
    """Rows of several months (a DataFrame with a `period` column), each month cached under its own version.

    `versions` maps month → its current version (response count); months whose (key, month, version) is not
    cached are fetched with ONE `query(missing_months)` and split.  Returns the concatenation in month order.
    """
    import pandas as pd

    url = str(session.get_bind().url)
    parts: dict[Any, Any] = {}
    missing: list[Any] = []
    enabled = _enabled()
    for month, version in versions.items():
        full = ("month", url, key, month, version)
        with _lock:
            hit = _entries.get(full) if enabled else None
            if hit is not None:
                _entries.move_to_end(full)
        if hit is None:
            missing.append(month)
        else:
            parts[month] = hit
    if missing:
        fresh = query(sorted(missing))
        by_month = dict(iter(fresh.groupby("period", sort=False))) if len(fresh) else {}
        for month in missing:
            chunk = by_month.get(month, fresh.iloc[0:0])
            parts[month] = chunk
            if enabled:
                with _lock:
                    _entries[("month", url, key, month, versions[month])] = chunk
                    while len(_entries) > MAX_ENTRIES:
                        _entries.popitem(last=False)
    if not parts:
        return query([])
    frames = [parts[m] for m in sorted(parts)]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
