"""The results cache counts what a DataFrame really holds, object columns included (issue 14 §4: bounded,
documented memory).  Before, `_size` took `memory_usage()` without `deep`: a column of Python strings counted 8
bytes a cell, so a cache of such frames held many times its budget while believing it was within it.

The reference is pandas' own deep count (`memory_usage(deep=True)`), computed independently of the cache's
sampled estimate for long object columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from survey.results import cache

N = 20_000  # longer than the cache's sample of an object column: the estimate, not the exact walk
RNG = np.random.default_rng(7)
NAMES = np.array([f"Điểm phục vụ {'hành chính công ' * int(k)}số {i}" for i, k in
                  enumerate(RNG.integers(0, 6, 400))], dtype=object)


def _strings(n: int) -> np.ndarray:
    return NAMES[RNG.integers(0, len(NAMES), n)]


FRAMES = {
    "object strings, long": lambda: pd.DataFrame({"name": pd.Series(_strings(N), dtype=object),
                                                   "x": RNG.random(N)}),
    "object strings, short": lambda: pd.DataFrame({"name": pd.Series(_strings(300), dtype=object)}),
    "tuples (node keys)": lambda: pd.DataFrame({"key": pd.Series([(f"U{i % 97}", i % 4) for i in range(N)],
                                                                 dtype=object), "n": np.arange(N)}),
    "string index": lambda: pd.DataFrame({"x": RNG.random(N)}, index=pd.Index(_strings(N), dtype=object)),
    "two-level index": lambda: pd.DataFrame(
        {"x": RNG.random(N)}, index=pd.MultiIndex.from_arrays([_strings(N), np.arange(N) % 12])),
    "numbers and categories": lambda: pd.DataFrame({"x": RNG.random(N), "k": np.arange(N),
                                                    "c": pd.Categorical(_strings(N))}),
    "Arrow strings": lambda: pd.DataFrame({"name": pd.Series(_strings(N), dtype="str")}),
    "Python-backed strings": lambda: pd.DataFrame({"name": pd.Series(_strings(N),
                                                                     dtype=pd.StringDtype("python"))}),
}


@pytest.mark.parametrize("kind", list(FRAMES))
def test_a_frame_counts_within_ten_percent_of_pandas_deep_count(kind):
    frame = FRAMES[kind]()
    deep = int(frame.memory_usage(deep=True).sum())
    assert abs(cache._size(frame) - deep) <= 0.10 * deep, (kind, cache._size(frame), deep)


def test_frames_of_strings_stay_within_the_budget_they_are_counted_against(app, db_session):
    """Budget 1 MB; each frame holds ~0.5 MB of strings (deep) but 0.02 MB by the shallow count: the cache
    keeps at most two of them, so what it truly holds stays within the budget (before: all six, ~3 MB)."""
    app.config["HAILONG_RESULTS_CACHE_MB"] = 1
    cache.clear()
    for i in range(6):
        frame = pd.DataFrame({"name": pd.Series(_strings(2_500), dtype=object)})
        cache.cached(db_session, ("names", i), lambda frame=frame: frame)
    held = [v for v in cache._entries.values() if isinstance(v, pd.DataFrame)]
    truly = sum(int(frame.memory_usage(deep=True).sum()) for frame in held)
    assert held and truly <= 2**20, (len(held), truly)
    cache.clear()
