"""A small LRU of computed results, keyed by the request parameters and the data's version.

The version is the newest response (id and received_at: one index lookup), so any stored response — or a
bulk load — makes earlier entries unreachable; the database URL keeps test databases apart.  Set
HAILONG_RESULTS_CACHE=0 (app config) to disable.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.respond.models import Response, TallyRevision

T = TypeVar("T")
MAX_ENTRIES = 1024
MAX_BYTES = 384 * 2**20  # month payloads of a SIPAS city are MBs each: bound the memory, not only the count
# lookups per (cache, hit|miss|refresh) in this process: /metrics reports hit rates (survey/ops/metrics.py)
STATS: Counter[tuple[str, str]] = Counter()
_entries: OrderedDict[Hashable, Any] = OrderedDict()
_sizes: dict[Hashable, int] = {}
_bytes = 0
_lock = Lock()


def _size(value: Any, depth: int = 0) -> int:
    """Approximate bytes held by a cached value (arrays, frames and the containers around them)."""
    import numpy as np
    import pandas as pd

    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(index=False).sum()) + 64 * len(value)
    if depth < 3 and isinstance(value, (tuple, list)):
        return 64 + sum(_size(v, depth + 1) for v in value)
    if depth < 3 and isinstance(value, dict):
        return 64 + sum(_size(v, depth + 1) for v in value.values())
    if depth < 3 and hasattr(value, "__dataclass_fields__"):
        return 64 + sum(_size(getattr(value, f), depth + 1) for f in value.__dataclass_fields__)
    return 256


def _put(key: Hashable, value: Any, size: int | None = None) -> None:
    """Insert under the lock (held by the caller) and evict the least recently used beyond the bounds."""
    global _bytes
    if key in _entries:
        _bytes -= _sizes.pop(key, 0)
    _entries[key] = value
    _entries.move_to_end(key)
    _sizes[key] = _size(value) if size is None else size
    _bytes += _sizes[key]
    limit = max_bytes()
    while len(_entries) > 1 and (len(_entries) > MAX_ENTRIES or _bytes > limit):
        old, _ = _entries.popitem(last=False)
        _bytes -= _sizes.pop(old, 0)


def max_bytes() -> int:
    """The results cache's memory bound: HAILONG_RESULTS_CACHE_MB (app config) or MAX_BYTES."""
    try:
        from flask import current_app

        mb = current_app.config.get("HAILONG_RESULTS_CACHE_MB")
    except RuntimeError:  # outside an app
        mb = None
    return int(mb) * 2**20 if mb else MAX_BYTES


def held_bytes() -> int:
    """Approximate bytes the results cache holds now."""
    return _bytes


def tally_revision(session: Session) -> int:
    """How many times responses were removed from or returned to the count tables (quarantine decisions,
    survey/respond/quarantine.py).  Counts and the newest id only grow with additions, so every cache keyed
    on them also keys on this; read once per request, BEFORE the data it guards."""
    def read() -> int:
        return int(session.scalar(select(TallyRevision.revision).where(TallyRevision.id == 1)) or 0)

    return per_request(("tally-revision", str(session.get_bind().engine.url)), read)


def data_version(session: Session) -> tuple[Any, ...]:
    """Newest response, tally revision and tree revision (results depend on where service points sit)."""
    from survey.results.tree import tree_revision

    revision = tally_revision(session)
    tree = tree_revision(session)
    row = session.execute(select(Response.id, Response.received_at).order_by(Response.id.desc()).limit(1)).first()
    return (str(session.get_bind().engine.url), None if row is None else (row[0], row[1]), revision, tree)


def enabled() -> bool:
    """HAILONG_RESULTS_CACHE (default on); always on outside an app context."""
    try:
        from flask import current_app

        return bool(current_app.config.get("HAILONG_RESULTS_CACHE", True))
    except RuntimeError:
        return True


def cached(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """compute() once per (key, data version); the result is shared: callers must not mutate it."""
    if not enabled():
        return compute()
    full = (key, data_version(session))
    with _lock:
        if full in _entries:
            _entries.move_to_end(full)
            STATS["results", "hit"] += 1
            return _entries[full]
    STATS["results", "miss"] += 1
    value = compute()
    with _lock:
        _put(full, value)
    return value


def clear() -> None:
    global _bytes
    from survey.results import month_cells, tree

    with _lock:
        _entries.clear()
        _sizes.clear()
        _bytes = 0
    month_cells.clear()
    tree.clear()


def data_changed() -> None:
    """Forget what this request has read (the tally revision, month cells …): the request itself has just
    changed the count tables (a publication folding late responses in) and reads figures again."""
    try:
        from flask import has_request_context, request

        if has_request_context():
            request.environ.pop("hailong.results.memo", None)
    except RuntimeError:
        return


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


def month_payloads(session: Session, key: Hashable, versions: dict[Any, int],
                   query: Callable[[list[Any]], dict[Any, Any]]) -> dict[Any, Any]:
    """Per month of `versions` (month → its version, the response count): query's payload for that month,
    each cached under (key, month, version).  Months not cached are fetched with ONE `query(missing)`,
    which returns {month: payload} for every month asked."""
    url = str(session.get_bind().engine.url)
    revision = tally_revision(session)
    parts: dict[Any, Any] = {}
    missing: list[Any] = []
    on = enabled()
    for month, version in versions.items():
        full = ("month", url, key, month, version, revision)
        with _lock:
            hit = _entries.get(full) if on else None
            if hit is not None:
                _entries.move_to_end(full)
        if hit is None:
            missing.append(month)
        else:
            parts[month] = hit
        STATS["results", "miss" if hit is None else "hit"] += 1
    if missing:
        fresh = query(sorted(missing))
        for month in missing:
            parts[month] = fresh[month]
            if on:
                with _lock:
                    _put(("month", url, key, month, versions[month], revision), fresh[month])
    return parts


def month_chunks(session: Session, key: Hashable, versions: dict[Any, int],
                 query: Callable[[list[Any]], Any]) -> Any:
    """Rows of several months (a DataFrame with a `period` column), each month cached under its own version
    (month_payloads).  Returns the concatenation in month order."""
    import pandas as pd

    def split(months: list[Any]) -> dict[Any, Any]:
        fresh = query(months)
        by_month = dict(iter(fresh.groupby("period", sort=False))) if len(fresh) else {}
        return {m: by_month.get(m, fresh.iloc[0:0]) for m in months}

    parts = month_payloads(session, key, versions, split)
    if not parts:
        return query([])
    frames = [parts[m] for m in sorted(parts)]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def month_sums(session: Session, key: Hashable, versions: dict[Any, int],
               query: Callable[[list[Any]], dict[Any, tuple[Any, Any]]]) -> tuple[Any, Any]:
    """Σ over months of per-month (keys, integer matrix) payloads, kept as a running total.

    query(months) returns, per month, a DataFrame of keys (each key at most once in a month) and a matrix
    with one row per key.  The total over every month of `versions` is kept per `key`; when only a few
    months changed since (a new response changes one month), the total is updated by subtracting their
    old payloads and adding the new ones — exact, because the payloads are integer counts — instead of
    adding up every month again.  Returns (keys DataFrame, float64 matrix), keys in first-seen order.

    Memory: the months are added one at a time (a whole-country SIPAS month is 10,000 service points ×
    3,570 entries: twelve of them at once were gigabytes), and the running total keeps the months' payloads
    for the update by difference only while they fit in a quarter of the results budget; larger ones are
    added up again when a month changes, and a total larger than the whole budget is not kept.
    """
    import numpy as np

    url = str(session.get_bind().engine.url)
    months = sorted(versions)
    full = ("month-sums", url, key, tuple(months))  # one running total per range
    with _lock:
        state = _entries.get(full) if enabled() else None
    if state is not None and state["parts"] is not None and set(state["parts"]) == set(months):
        parts = month_payloads(session, key, versions, query)
        changed = [m for m in months if state["parts"][m] is not parts[m]]
        if len(changed) <= max(2, len(months) // 3):
            return _updated_sums(full, state, parts, changed)
    acc = _RowSums()
    kept: dict[Any, Any] | None = {}
    held = 0
    for month in months:  # one month's payload alive at a time (it stays in the cache if the budget allows)
        mat_keys, mat = month_payloads(session, key, {month: versions[month]}, query)[month]
        held += _size(mat)
        if kept is not None:
            kept[month] = (mat_keys, mat)
            if held > max_bytes() // 4:
                kept = None
        if len(mat):
            acc.add(mat_keys, mat)
        del mat_keys, mat
    if not acc.rows:
        return _empty_frame(), np.zeros((0, 0))
    total = acc.total()
    if enabled() and int(total.nbytes) <= max_bytes():
        with _lock:
            # the parts are cached (and counted) as months already: only the total is this entry's own
            _put(full, {"parts": kept, "rows": acc.rows, "columns": acc.columns, "total": total},
                 int(total.nbytes) + 128 * len(acc.rows))
    return _key_frame(acc.rows, acc.columns), total


def _empty_frame() -> Any:
    import pandas as pd

    return pd.DataFrame()


def _key_frame(rows: dict[Any, int], columns: list[str]) -> Any:
    import pandas as pd

    return pd.DataFrame(list(rows), columns=columns) if rows else pd.DataFrame(columns=columns)


class _RowSums:
    """Rows added up by key in first-seen order, growing as months add keys (the order and the float64
    sums of adding every month's matrix in month order)."""

    def __init__(self) -> None:
        self.rows: dict[Any, int] = {}
        self.columns: list[str] = []
        self._total: Any = None

    def add(self, keys: Any, mat: Any) -> None:
        import numpy as np

        if self._total is None:
            self.columns = list(keys.columns)
            self._total = np.zeros((max(len(keys), 1), mat.shape[1]))
        at = np.empty(len(keys), dtype=np.int64)
        for i, k in enumerate(keys[self.columns].itertuples(index=False, name=None)):
            row = self.rows.get(k)
            if row is None:
                row = self.rows[k] = len(self.rows)
            at[i] = row
        if len(self.rows) > len(self._total):
            grown = np.zeros((max(len(self.rows), 2 * len(self._total)), self._total.shape[1]))
            grown[: len(self._total)] = self._total
            self._total = grown
        self._total[at] += mat

    def total(self) -> Any:
        return self._total[: len(self.rows)]


def _updated_sums(full: Hashable, state: dict[str, Any], parts: dict[Any, Any],
                  changed: list[Any]) -> tuple[Any, Any]:
    """The kept running total with the `changed` months' old payloads taken out and the new ones added."""
    import numpy as np

    rows = dict(state["rows"])
    columns = state["columns"]
    total = state["total"].copy()
    for m in changed:
        (old_keys, old_mat), (new_keys, new_mat) = state["parts"][m], parts[m]
        if len(old_mat) and old_mat.shape == new_mat.shape and old_keys.equals(new_keys):
            # the same keys in the same order (responses to cells the month had): add the changed rows'
            # integer differences only — a national month is 10,000 rows, a response changes one
            moved = np.flatnonzero((old_mat != new_mat).any(axis=1))
            if len(moved):
                at = np.array([rows[k] for k in old_keys.iloc[moved][columns].itertuples(index=False, name=None)],
                              dtype=np.int64)
                total[at] += new_mat[moved].astype(np.int64) - old_mat[moved].astype(np.int64)
            continue
        for sign, (keys, mat) in ((-1.0, (old_keys, old_mat)), (1.0, (new_keys, new_mat))):
            if not len(mat):
                continue
            at = np.empty(len(keys), dtype=np.int64)
            for i, k in enumerate(keys[columns].itertuples(index=False, name=None)):
                if k not in rows:
                    rows[k] = len(rows)
                at[i] = rows[k]
            if len(rows) > len(total):
                total = np.vstack([total, np.zeros((len(rows) - len(total), total.shape[1]))])
            total[at] += sign * mat
    if enabled():
        with _lock:
            _put(full, {"parts": dict(parts), "rows": rows, "columns": columns, "total": total},
                 int(total.nbytes) + 128 * len(rows))
    return _key_frame(rows, columns), total
