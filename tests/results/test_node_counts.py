"""Every tree node's n and own suppression per measure from the item counts alone (survey/results/node_counts.py,
what the protection of small groups is decided on) equal what `indices` at every level lists: the same nodes,
in the same order, with the same n and `suppressed` — for every measure of the questionnaire, a channel, a
period range, and n_min values that suppress some nodes and not others."""

from __future__ import annotations

import pytest

from survey.results import Selection, cache, indices
from survey.results.node_counts import node_figures
from survey.results.tree import level_codes
from tests.results.factories import city_with_responses


def _from_indices(session, sel, kinds, n_min):
    """The figures as protection.py read them before: `indices` at each level, row by row."""
    figures: dict = {}
    for kind in kinds:
        table = indices(session, sel, domain=kind, n_min=n_min).table
        for measure, code, k, sup in zip(table["measure"].astype(str), table["domain"].astype(str), table["n"],
                                         table["suppressed"], strict=True):
            if code not in ("", "(missing)"):
                figures.setdefault(measure, {})[(kind, code)] = (int(k), bool(sup))
    return figures


@pytest.mark.parametrize("instrument", ["counter-quick", "sipas-2017"])
def test_node_figures_equal_those_of_indices_at_every_level(db_session, instrument):
    cache.clear()
    data = city_with_responses(db_session, per_point=12, months=3, comments=False, instrument=instrument)
    kinds = [*level_codes(db_session), "agency", "service_point"]
    checked = 0
    for sel in (Selection.of(data.qv_id), Selection.of(data.qv_id, channels=("paper",)),
                Selection.of(data.qv_id, period_from=data.months[1].date().replace(day=1))):
        for n_min in (1, 12, 30, 80):
            cache.clear()
            new = node_figures(db_session, sel, kinds, n_min)
            cache.clear()
            old = _from_indices(db_session, sel, kinds, n_min)
            assert list(new) == list(old) or sorted(new) == sorted(old)
            for measure, nodes in old.items():
                assert list(new[measure].items()) == list(nodes.items()), (measure, n_min)
            flags = {sup for nodes in old.values() for _n, sup in nodes.values()}
            checked += len(flags)
    assert checked > 12, "some n_min suppresses some nodes and shows others"
    cache.clear()

