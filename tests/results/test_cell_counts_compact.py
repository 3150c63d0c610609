"""The protection's kept counts per measure (survey/results/cell_counts.py) are held compactly — int32, and one
array for a single item's n and answers (they are equal) — and, kept and updated over random new responses
round after round, equal the counts built from every answer row (`cell_counts` + `protection._measure_counts`)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from survey.results import Selection, cache, cell_counts, protection
from tests.results.factories import city_with_responses
from tests.results.test_month_pass_again import _random_response


@pytest.fixture
def data(request, db_session):
    cache.clear()
    request.addfinalizer(cache.clear)
    return city_with_responses(db_session, per_point=6, months=3, comments=False)


def _measures(app, session, qv_id: int, quarter: date, reference: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from survey.results.node_counts import measure_items
    from survey.results.totals import instrument

    with app.test_request_context("/"):
        inst = instrument(session, Selection(questionnaire_version_ids=(qv_id,)))
        parent, above = protection._org_tree(session)
        spec_items = {int(i): c for i, c in inst.item_codes.items() if c in inst.spec.items}
        wanted = [(m, items) for m, items in measure_items(inst.spec.measures)]
        wanted += [(i, [i]) for i in sorted({i for _m, items in wanted for i in items})]
        if reference:
            cells = cell_counts.cell_counts(session, (qv_id,), spec_items, above, list(parent))
            return {m: protection._measure_counts(cells, items, quarter) for m, items in wanted}
        live = cell_counts.live_cells(session, (qv_id,), spec_items, above, list(parent))
        return {m: live.measure(items, quarter)[:2] for m, items in wanted}


@pytest.mark.parametrize("seed", [3, 4])
def test_kept_counts_are_compact_and_equal_a_build_from_every_answer(app, db_session, data, seed):
    rng = np.random.default_rng(seed)
    newest = data.months[0].date().replace(day=1)
    quarter = date(newest.year, 3 * ((newest.month - 1) // 3) + 1, 1)
    points = sorted(data.city.service_points.values(), key=lambda p: p.code)
    kept = _measures(app, db_session, data.qv_id, quarter, reference=False)
    for _round in range(3):
        for k in rng.choice(len(points), size=int(rng.integers(1, 4)), replace=False).tolist():
            older = bool(rng.integers(0, 2))  # the newest month or the one before
            for _ in range(int(rng.integers(1, 4))):
                _random_response(db_session, data, rng, points[k], data.months[int(older)], "paper" if older else None)
        kept = _measures(app, db_session, data.qv_id, quarter, reference=False)
        reference = _measures(app, db_session, data.qv_id, quarter, reference=True)
        for name, (n, answers) in kept.items():
            np.testing.assert_array_equal(n, reference[name][0], err_msg=name)
            np.testing.assert_array_equal(answers, reference[name][1], err_msg=name)
            assert n.dtype == np.int32 and answers.dtype == np.int32, name
    composites = {name for name, (n, answers) in kept.items() if not np.array_equal(n, answers)}
    shared = [name for name in kept if kept[name][0] is kept[name][1]]
    assert shared and not composites & set(shared), "one array kept for a single item's n and answers (never two)"
