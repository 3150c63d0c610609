"""A small LRU of computed results, keyed by the request parameters and the data's version.

The version is the newest response (id and received_at: one index lookup), so any stored response — or a
bulk load — makes earlier entries unreachable; the database URL keeps test databases apart.  It is read once
per HTTP request (`data_version`), before the data.  Set HAILONG_RESULTS_CACHE=0 (app config) to disable.

Two threads of a worker asking for the same missing result compute it ONCE (`cached`: the second waits for
the first; an error reaches both, and nothing is stored, so a later call computes again): a national result
holds gigabytes while it is built (issue 14 §4).

Eviction: least recently used first, but results under an older data version (never asked for again) and
entries made or read while another entry was being computed (the protection's per-node tables, month
payloads, running totals: the material of a page's results) go before the results a page asks for itself.
Otherwise a page whose material exceeds the budget evicts its own results while it builds them, and its next
request recomputes (docs/scaling.md, "Memory per serving process").
"""

from __future__ import annotations

import sys
import threading
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
# lookups per (cache, hit|miss|wait) in this process: /metrics reports hit rates (survey/ops/metrics.py)
STATS: Counter[tuple[str, str]] = Counter()


class _Flight:
    """One computation of a missing result, which other threads asking for the same key wait for."""

    def __init__(self) -> None:
        self.owner = threading.get_ident()
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


_entries: OrderedDict[Hashable, Any] = OrderedDict()
_sizes: dict[Hashable, int] = {}
#: the entries last made or read while another was being computed, least recently used first: evicted first
_inner: OrderedDict[Hashable, None] = OrderedDict()
_bytes = 0
_lock = Lock()
#: results being computed now: key → the computation the other threads asking for it wait on
_flights: dict[Hashable, _Flight] = {}
#: the newest data version read per database URL: results under an older one are evicted first
_latest: dict[str, tuple[Any, ...]] = {}
_local = threading.local()  # .depth: how many `cached` computations this thread is inside


def _depth() -> int:
    return int(getattr(_local, "depth", 0))


def _touch(key: Hashable, new: bool = False) -> None:
    """Under the lock: `key` was just stored (`new`) or read — by a page (it leaves the evicted-first set)
    or while another entry was computed (a new entry joins that set, one there stays and moves up)."""
    _entries.move_to_end(key)
    if not _depth():
        _inner.pop(key, None)
    elif new or key in _inner:
        _inner[key] = None
        _inner.move_to_end(key)


#: items of a container looked at to estimate its size (evenly spaced; the rest counted at their mean)
_SAMPLE = 48


def _size(value: Any, depth: int = 0, seen: set[int] | None = None) -> int:
    """Approximate bytes held by a cached value (arrays, frames and the containers around them).

    Containers count their own size and their items', a large one from an evenly spaced sample scaled up;
    an object met twice in one value (the same node key in every measure's table) counts once, shared
    singletons (None, booleans, small integers) not at all.  Measured against a full traversal on the
    national tree's protection tables: within 10% (it counted 2.5× before, a flat 256 B per tuple)."""
    import numpy as np
    import pandas as pd

    seen = set() if seen is None else seen
    if value is None or isinstance(value, bool) or (isinstance(value, int) and -5 <= value <= 256):
        return 0
    if id(value) in seen:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        return int(value.nbytes) + 112
    if isinstance(value, pd.DataFrame):
        return _pandas_bytes(value.index) + sum(_pandas_bytes(column) for _name, column in value.items())
    if isinstance(value, (str, bytes, int, float)) or depth >= 4:
        return sys.getsizeof(value) if isinstance(value, (str, bytes, int, float)) else 256
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is not None:
        return 64 + sum(_size(getattr(value, f), depth + 1, seen) for f in fields)
    if isinstance(value, dict):
        items: list[Any] = list(value.items()) if len(value) <= _SAMPLE else _spaced(list(value.items()))
        own = sum(_size(k, depth + 1, seen) + _size(v, depth + 1, seen) for k, v in items)
        return sys.getsizeof(value) + own * len(value) // max(len(items), 1)
    if isinstance(value, (tuple, list, set, frozenset)):
        seq = list(value)
        part = seq if len(seq) <= _SAMPLE else _spaced(seq)
        return sys.getsizeof(value) + sum(_size(v, depth + 1, seen) for v in part) * len(seq) // max(len(part), 1)
    return 256


_DEEP_SAMPLE = 1024


def _pandas_bytes(values: Any) -> int:
    """Bytes of one column or index of a frame, as `memory_usage(deep=True)` counts them: the Python objects of
    an object column too (the shallow count gives 8 bytes a cell: a frame of strings held 16x what the budget
    saw).  A long object column is estimated from an evenly spaced sample of its cells: the exact walk costs
    0.1 s of CPU per million cells, under the cache's lock (numbers, categories and Arrow strings are exact)."""
    import numpy as np
    import pandas as pd

    sampled = len(values) > _DEEP_SAMPLE and not isinstance(values, pd.MultiIndex) and (
        values.dtype == object or getattr(values.dtype, "storage", None) == "python")
    if not sampled:
        return int(values.memory_usage(deep=True) if isinstance(values, pd.Index)
                   else values.memory_usage(index=False, deep=True))
    cells = values.to_numpy(dtype=object)
    at = np.linspace(0, len(cells) - 1, _DEEP_SAMPLE).astype(np.int64)
    return int(cells.nbytes) + sum(sys.getsizeof(cells[i]) for i in at) * len(cells) // _DEEP_SAMPLE


def _spaced(items: list[Any]) -> list[Any]:
    step = len(items) / _SAMPLE
    return [items[int(i * step)] for i in range(_SAMPLE)]


def _put(key: Hashable, value: Any, size: int | None = None) -> None:
    """Insert under the lock (held by the caller) and evict beyond the bounds: the least recently used
    material of other results first (module docstring), then the least recently used result."""
    global _bytes
    new = key not in _entries
    if not new:
        _bytes -= _sizes.pop(key, 0)
    _entries[key] = value
    _touch(key, new)
    _sizes[key] = _size(value) if size is None else size
    _bytes += _sizes[key]
    limit = max_bytes()
    while len(_entries) > 1 and (len(_entries) > MAX_ENTRIES or _bytes > limit):
        if _inner:
            old, _ = _inner.popitem(last=False)
            del _entries[old]
        else:
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
    """Newest response, tally revision and tree revision (results depend on where service points sit).

    Read once per HTTP request (a page asks for tens of results: one query each before), before the data;
    a response stored after that read is in the next request's figures.  A request that changes the count
    tables itself calls `data_changed()` to read it again."""
    url = str(session.get_bind().engine.url)
    return per_request(("data-version", url), lambda: _read_version(session, url))


def _read_version(session: Session, url: str) -> tuple[Any, ...]:
    from survey.results.tree import tree_revision

    revision = tally_revision(session)
    tree = tree_revision(session)
    row = session.execute(select(Response.id, Response.received_at).order_by(Response.id.desc()).limit(1)).first()
    version = (url, None if row is None else (row[0], row[1]), revision, tree)
    _superseded(url, version)
    return version


def _superseded(url: str, version: tuple[Any, ...]) -> None:
    """A new data version of `url`: its results under older versions will not be asked for again, so they are
    evicted first — before the material (month payloads, kept under their month's own version, stay valid)."""
    with _lock:
        if _latest.get(url) == version:
            return
        _latest[url] = version
        for key in list(_entries):
            old = _result_version(key)
            if old is not None and old[0] == url and old != version:
                _inner[key] = None
                _inner.move_to_end(key, last=False)


def _result_version(key: Hashable) -> tuple[Any, ...] | None:
    """The data version of a `cached` result's key (key, version), None for other entries."""
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], tuple) and len(key[1]) == 4 \
            and isinstance(key[1][0], str):
        return key[1]
    return None


def enabled() -> bool:
    """HAILONG_RESULTS_CACHE (default on); always on outside an app context."""
    try:
        from flask import current_app

        return bool(current_app.config.get("HAILONG_RESULTS_CACHE", True))
    except RuntimeError:
        return True


def cached(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """compute() once per (key, data version); the result is shared: callers must not mutate it.

    Single flight: while one thread computes a key, another thread asking for it waits and gets the same
    value, or the same exception (then nothing is stored, and the next call computes again)."""
    if not enabled():
        return compute()
    full = (key, data_version(session))
    with _lock:
        if full in _entries:
            _touch(full)
            STATS["results", "hit"] += 1
            return _entries[full]
        flight = _flights.get(full)
        leader = flight is None
        if flight is None:
            flight = _flights[full] = _Flight()
    if not leader:
        if flight.owner == threading.get_ident():
            return compute()  # asked again inside its own computation: compute, never wait on itself
        STATS["results", "wait"] += 1
        flight.done.wait()
        if flight.error is not None:
            raise flight.error
        return flight.value
    STATS["results", "miss"] += 1
    _local.depth = _depth() + 1
    try:
        value = compute()
    except BaseException as exc:
        flight.error = exc
        with _lock:
            _flights.pop(full, None)
        flight.done.set()
        raise
    finally:
        _local.depth = _depth() - 1
    flight.value = value
    with _lock:
        _put(full, value)
        _flights.pop(full, None)
    flight.done.set()
    return value


def clear() -> None:
    global _bytes
    from survey.results import month_cells, tree

    with _lock:
        _entries.clear()
        _sizes.clear()
        _inner.clear()
        _latest.clear()
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
                _touch(full)
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
