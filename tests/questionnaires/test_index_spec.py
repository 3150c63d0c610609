"""The compiled index: structure for the shipped instruments, and values checked by hand on tiny data."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from typing import Any

import pytest

from questionnaires import IndexSpec, Measure, RatioKey, load_dict, load_shipped

Factory = Callable[[], dict[str, Any]]


def ratio(responses: Iterable[Mapping[str, int]], spec: IndexSpec, key: RatioKey) -> float:
    """Σ y / Σ a over responses, by plain counting (0 = no opinion and absent = not answered)."""
    item = spec.items[key.item]
    answered = [r[key.item] for r in responses if r.get(key.item, 0) in item.values]
    if key.kind == "sat":
        return sum(v in item.satisfied for v in answered) / len(answered)
    return sum(answered) / len(answered)


def evaluate(m: Measure, responses: list[Mapping[str, int]], spec: IndexSpec) -> float:
    return m.const + sum(c * ratio(responses, spec, k) for k, c in m.terms)


def test_sipas_measures() -> None:
    q = load_shipped("sipas-2017")
    spec = q.index_spec()
    elements = [m for m in spec.measures if m.kind == "element"]
    assert [m.code for m in elements] == ["E1", "E2", "E3", "E4", "E5"]
    criteria = [k.item for m in elements for k in m.ratios]
    assert len(criteria) == len(set(criteria)) == 22
    assert [len(m.terms) for m in elements] == [4, 5, 6, 3, 4]
    for m in elements:
        k = len(m.terms)
        assert all(key.kind == "sat" and c == pytest.approx(1 / k) for key, c in m.terms)
        assert m.title_vi and m.title_en
    # every scale item (22 criteria, 5 element-satisfaction questions, the overall question) is reported
    scale_items = [it.code for it in q.items() if it.type == "scale"]
    item_measures = [m for m in spec.measures if m.kind == "item"]
    assert [m.code for m in item_measures] == scale_items
    assert set(criteria) < set(scale_items) and len(scale_items) == 28
    assert [m.code for m in spec.measures if m.kind == "item_mean"] == [f"{c}:mean" for c in scale_items]
    assert all(m.terms == ((RatioKey(m.code, "sat"), 1.0),) and m.const == 0 for m in item_measures)
    overall = spec.measure("OVERALL")
    assert overall.kind == "overall"
    coef = dict(overall.terms)
    for el in elements:
        for key, _ in el.terms:
            assert coef[key] == pytest.approx(1 / 5 * 1 / len(el.terms))
    assert len(coef) == 22 and sum(coef.values()) == pytest.approx(1.0)
    # multiple choice and free text are not scored
    assert "E1.EXP" not in spec.items and "COMMENT" not in spec.items
    assert spec.items["E1.1"].values == (1, 2, 3, 4, 5) and spec.items["E1.1"].satisfied == {4, 5}
    assert spec.meta["checksum"] == q.checksum()


def test_measure_codes_are_unique_for_every_shipped_instrument() -> None:
    for id in ("sipas-2017", "counter-quick", "papi-services"):
        codes = [m.code for m in load_shipped(id).index_spec().measures]
        assert len(codes) == len(set(codes)), id


def test_hand_computed_index_on_tiny_data(tiny: Factory) -> None:
    d = tiny()
    d["index"]["overall"] = {"combine": "weighted", "weights": {"EA": 0.75, "EB": 0.25}}
    spec = load_dict(d).index_spec()
    # A1, A2 on the 5-level scale (satisfied 4, 5; 0 = no opinion); B1 on the 3-level scale (satisfied 2, 3).
    responses = [
        {"A1": 5, "A2": 4, "B1": 1},
        {"A1": 4, "A2": 0, "B1": 2},
        {"A1": 2, "A2": 1, "B1": 3},
        {"A1": 0, "B1": 2},
    ]
    # By hand: p(A1) = 2 satisfied of 3 answered; p(A2) = 1 of 2 (the 0 and the gap are not answered);
    # p(B1) = 3 of 4.  EA = (2/3 + 1/2)/2 = 7/12, EB = 3/4, overall = 0.75·7/12 + 0.25·3/4 = 5/8.
    expected = {"A1": Fraction(2, 3), "A2": Fraction(1, 2), "B1": Fraction(3, 4),
                "EA": Fraction(7, 12), "EB": Fraction(3, 4), "OVERALL": Fraction(5, 8)}
    for code, value in expected.items():
        assert evaluate(spec.measure(code), responses, spec) == pytest.approx(float(value)), code
    # mean of A1 = (5 + 4 + 2)/3; PAPI D1.1 (k=2) = 1/2 + 9/2·mean(p(A1), (mean(A2) − 1)/4)
    #   mean(A2) = 5/2 → (5/2 − 1)/4 = 3/8 → D1.1 = 1/2 + 9/2·(2/3 + 3/8)/2 = 1/2 + 9/4·25/24 = 91/32
    # D1.2 = 1/2 + 9/2·(mean(B1) − 1)/2 with mean(B1) = 2 → 1/2 + 9/4 = 11/4; D1 = 91/32 + 88/32 = 179/32
    assert evaluate(spec.measure("A1:mean"), responses, spec) == pytest.approx(11 / 3)
    assert evaluate(spec.measure("D1.1"), responses, spec) == pytest.approx(91 / 32)
    assert evaluate(spec.measure("D1.2"), responses, spec) == pytest.approx(11 / 4)
    assert evaluate(spec.measure("D1"), responses, spec) == pytest.approx(179 / 32)
    assert evaluate(spec.measure("PAPI"), responses, spec) == pytest.approx(179 / 32)


def _extreme(spec: IndexSpec, best: bool) -> list[dict[str, int]]:
    """Two respondents giving every scored item its best (or worst) level."""
    row = {code: (it.max if best else it.min) for code, it in spec.items.items()}
    return [row, dict(row)]


@pytest.mark.parametrize(("best", "dimension", "total"), [(True, 10.0, 30.0), (False, 1.0, 3.0)])
def test_papi_bands(best: bool, dimension: float, total: float) -> None:
    q = load_shipped("papi-services")
    spec = q.index_spec()
    data = _extreme(spec, best)
    assert q.papi is not None and [d.code for d in q.papi.dimensions] == ["D5", "D6", "D8"]
    for dim in q.papi.dimensions:
        k = len(dim.subdimensions)
        assert evaluate(spec.measure(dim.code), data, spec) == pytest.approx(dimension)
        for sub in dim.subdimensions:
            assert evaluate(spec.measure(sub.code), data, spec) == pytest.approx(dimension / k)
    assert evaluate(spec.measure("PAPI"), data, spec) == pytest.approx(total)
    assert evaluate(spec.measure("OVERALL"), data, spec) == pytest.approx(1.0 if best else 0.0)


def test_papi_subdimension_counts() -> None:
    spec = load_shipped("papi-services").index_spec()
    kinds = [m.kind for m in spec.measures]
    assert kinds.count("papi_subdimension") == 8 and kinds.count("papi_dimension") == 3
    assert kinds.count("papi_total") == 1


def test_counter_overall_uses_the_two_required_ratings_only() -> None:
    q = load_shipped("counter-quick")
    spec = q.index_spec()
    required = {it.code for it in q.items() if it.required}
    assert required == {"C.ATT", "C.HANDLING"}
    overall = spec.measure("OVERALL")
    assert dict(overall.terms) == {RatioKey("C.ATT"): pytest.approx(0.5), RatioKey("C.HANDLING"): pytest.approx(0.5)}
    assert spec.items["C.ATT"].satisfied == {2, 3} and spec.items["C.ATT"].values == (1, 2, 3)


def test_single_choice_item_is_scored_but_has_no_measure(tiny: Factory) -> None:
    spec = load_dict(tiny()).index_spec()
    assert spec.items["B.KIND"].values == (1, 2) and spec.items["B.KIND"].satisfied == frozenset()
    assert "B.KIND" not in {m.code for m in spec.measures}
    assert spec.ratios() == tuple(sorted(spec.ratios()))
