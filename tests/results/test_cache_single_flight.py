"""The results cache computes a missing result once for threads that ask at the same time (issue 14 §4).

gunicorn's threads (4 per worker by default) can open the same heavy page at once; at national size one
computation holds gigabytes, so two of them at once could kill the worker.  The second thread must wait for
the first's value, an error must reach every waiter (and leave nothing stored), a computation that asks for
its own key again must not wait on itself, and material computed for another entry must be evicted before
the results a page asked for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sqlalchemy.orm import Session

from survey.extensions import db
from survey.results import cache

THREADS = 6


@pytest.fixture(autouse=True)
def _empty_cache(request):
    cache.clear()
    request.addfinalizer(cache.clear)


def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait (polling) for `condition`; fail after 30 s instead of hanging the suite."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def _in_threads(call: Callable[[Session], Any], n: int = THREADS) -> list[Any]:
    """call(session) in n threads started together, each with its own session; their values or exceptions."""
    out: list[Any] = [None] * n
    start = threading.Barrier(n)

    def run(i: int) -> None:
        with Session(db.engine) as session:
            start.wait()
            try:
                out[i] = call(session)
            except Exception as exc:  # the test inspects what each thread got
                out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "a thread is still waiting: deadlock"
    return out


class _Heavy:
    """A counting fake of a heavy computation that finishes only once every other caller is waiting for it."""

    def __init__(self, fail: bool = False) -> None:
        self.runs = 0
        self.fail = fail
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            self.runs += 1
        # every other caller waiting for this value — or (without single flight) computing it too
        _until(lambda: cache.STATS["results", "wait"] - self.base >= THREADS - 1 or self.runs > 1,
               "the other threads to wait")
        if self.fail:
            raise ValueError("heavy failed")
        return {"figures": np.arange(10.0)}

    def start(self) -> _Heavy:
        self.base = cache.STATS["results", "wait"]  # waits counted from here
        return self


def test_concurrent_callers_compute_a_missing_result_once(app):
    heavy = _Heavy().start()
    got = _in_threads(lambda s: cache.cached(s, ("heavy", 1), heavy))
    assert heavy.runs == 1
    assert all(g is got[0] for g in got), got  # the waiters got the leader's very value
    with Session(db.engine) as session:  # and it is stored: a later call computes nothing
        assert cache.cached(session, ("heavy", 1), heavy) is got[0]
    assert heavy.runs == 1


def test_an_error_reaches_every_waiter_and_a_later_call_computes_again(app):
    heavy = _Heavy(fail=True).start()
    got = _in_threads(lambda s: cache.cached(s, ("heavy", 2), heavy))
    assert heavy.runs == 1
    assert all(isinstance(g, ValueError) and str(g) == "heavy failed" for g in got), got
    heavy.fail = False
    with Session(db.engine) as session:
        value = cache.cached(session, ("heavy", 2), lambda: "recomputed")
    assert value == "recomputed"  # nothing stored by the failure, no flight left to wait on


def test_different_keys_are_computed_side_by_side(app):
    runs: list[int] = []
    both = threading.Barrier(2)

    def compute(i: int) -> int:
        both.wait(30)  # each needs the other to be computing at the same time: a shared wait would deadlock
        runs.append(i)
        return i

    got = _in_threads(lambda s: cache.cached(s, ("key", threading.get_ident()), lambda: compute(1)), n=2)
    assert got == [1, 1] and len(runs) == 2


def test_a_computation_asking_for_its_own_key_does_not_wait_on_itself(app, db_session):
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        if len(calls) == 1:
            return cache.cached(db_session, ("self", 1), compute) + 1
        return 1

    assert cache.cached(db_session, ("self", 1), compute) == 2
    assert cache.cached(db_session, ("self", 1), compute) == 2 and len(calls) == 2


def test_material_of_another_result_is_evicted_before_a_page_result(app, db_session):
    """With a budget that holds a page's results but not also the material they were built from, the page's
    own results stay (under plain LRU its first result was evicted while the second was built)."""
    app.config["HAILONG_RESULTS_CACHE_MB"] = 1
    computed: list[str] = []

    def result(name: str, material: list[str]) -> Callable[[], Any]:
        def compute() -> Any:
            computed.append(name)
            for m in material:  # 0.45 MB each: three of them overflow 1 MB
                cache.cached(db_session, ("material", m), lambda: np.zeros(56_000))
            return np.zeros(1_000)

        return compute

    cache.cached(db_session, ("page", "A"), result("A", ["a1"]))
    cache.cached(db_session, ("page", "B"), result("B", ["b1", "b2", "b3"]))
    assert cache.held_bytes() <= 2**20
    cache.cached(db_session, ("page", "A"), result("A", ["a1"]))
    cache.cached(db_session, ("page", "B"), result("B", ["b1", "b2", "b3"]))
    assert computed == ["A", "B"]  # both pages' second requests were warm


def test_results_of_an_older_data_version_are_evicted_before_material(app, db_session):
    """After a new response, the results under the older version will not be asked for again: they go before
    the material of the new version's results (month payloads stay valid across versions)."""
    from tests.results.factories import city_with_responses
    from tests.results.test_cache_data_version import _store

    data = city_with_responses(db_session, per_point=5, months=1, comments=False)
    app.config["HAILONG_RESULTS_CACHE_MB"] = 1
    with app.test_request_context():
        cache.cached(db_session, ("page", "old"), lambda: np.zeros(56_000))  # 0.45 MB, a page's own result
    _store(db_session, data, "UBND-NK-TA-SP1")
    computed: list[str] = []

    def material(name: str) -> Any:
        computed.append(name)
        return np.zeros(56_000)

    def page() -> Any:
        for m in ("m1", "m2"):
            cache.cached(db_session, ("material", m), lambda m=m: material(m))
        return np.zeros(1_000)

    with app.test_request_context():
        cache.cached(db_session, ("page", "new"), page)
    with app.test_request_context():  # the new page's material is still there; the old page's result is not
        for m in ("m1", "m2"):
            cache.cached(db_session, ("material", m), lambda m=m: material(m))
    assert computed == ["m1", "m2"]
