"""Compiling a questionnaire's index (and PAPI) definition into affine measures over ratios.

Lives beside `index_spec.py` (what it produces) so "how an index is computed" has one obvious file:
items → elements → overall, PAPI sub-dimensions → dimensions → total (docs/contracts.md §2).
"""

from __future__ import annotations

from .index_spec import IndexSpec, ItemSpec, Measure, RatioKey
from .model import PapiIndicator, Questionnaire, Text
from .validate import OVERALL_CODE

Terms = dict[RatioKey, float]
_OVERALL_TITLE = Text("Chỉ số hài lòng chung", "Overall satisfaction index")
_PAPI_TOTAL_TITLE = Text("Tổng điểm các chỉ số nội dung", "Total of the dimensions")


def _scaled(terms: Terms, c: float) -> Terms:
    return {k: v * c for k, v in terms.items()}


def _add(acc: Terms, terms: Terms) -> Terms:
    for k, v in terms.items():
        acc[k] = acc.get(k, 0.0) + v
    return acc


def _measure(code: str, kind: str, terms: Terms, const: float, title: Text | None) -> Measure:
    return Measure(
        code=code,
        kind=kind,  # type: ignore[arg-type]
        terms=tuple((k, v) for k, v in terms.items() if v != 0.0),
        const=const,
        title_vi=title.vi if title else "",
        title_en=title.en if title else "",
    )


def compile_index(q: Questionnaire) -> IndexSpec:
    """Items → `item`/`item_mean` measures; elements; overall; PAPI sub-dimensions, dimensions, total."""
    items: dict[str, ItemSpec] = {}
    measures: list[Measure] = []
    for it in q.scored_items():
        sat = it.scale.satisfied if it.scale else frozenset()
        items[it.code] = ItemSpec(it.code, it.values, sat, it.text.vi, it.text.en)
        if it.type == "scale":
            measures.append(_measure(it.code, "item", {RatioKey(it.code, "sat"): 1.0}, 0.0, it.text))
            measures.append(_measure(f"{it.code}:mean", "item_mean", {RatioKey(it.code, "mean"): 1.0}, 0.0, it.text))

    element_terms: dict[str, Terms] = {}
    for el in q.index.elements:
        t: Terms = {}
        for code in el.items:
            _add(t, {RatioKey(code, "sat"): 1.0 / len(el.items)})
        element_terms[el.code] = t
        measures.append(_measure(el.code, "element", t, 0.0, el.title))

    if q.index.combine == "weighted":
        weights = dict(q.index.weights)
    else:
        weights = {el.code: 1.0 / len(q.index.elements) for el in q.index.elements}
    overall: Terms = {}
    for code, w in weights.items():
        _add(overall, _scaled(element_terms[code], w))
    measures.append(_measure(OVERALL_CODE, "overall", overall, 0.0, _OVERALL_TITLE))

    if q.papi is not None:
        measures += _compile_papi(q)

    meta = {"method": q.index.method, "combine": q.index.combine, "checksum": q.checksum()}
    if q.papi is not None:
        meta["papi_rescaling"] = q.papi.rescaling
    return IndexSpec(q.id, q.version, items, tuple(measures), n_min=q.index.n_min, meta=meta)


def _indicator(q: Questionnaire, ind: PapiIndicator) -> tuple[Terms, float]:
    """An indicator in [0, 1] as (terms, const)."""
    if ind.score == "satisfied":
        return {RatioKey(ind.item, "sat"): 1.0}, 0.0
    sc = q.item(ind.item).scale
    assert sc is not None
    span = sc.max - sc.min
    return {RatioKey(ind.item, "mean"): 1.0 / span}, -sc.min / span


def _compile_papi(q: Questionnaire) -> list[Measure]:
    assert q.papi is not None
    out: list[Measure] = []
    total: Terms = {}
    total_const = 0.0
    dims: list[Measure] = []
    for dim in q.papi.dimensions:
        k = len(dim.subdimensions)
        d_terms: Terms = {}
        d_const = 0.0
        for sub in dim.subdimensions:
            n = len(sub.indicators)
            s_terms: Terms = {}
            s_const = 1.0 / k
            for ind in sub.indicators:
                t, c = _indicator(q, ind)
                _add(s_terms, _scaled(t, 9.0 / (k * n)))
                s_const += 9.0 / (k * n) * c
            out.append(_measure(sub.code, "papi_subdimension", s_terms, s_const, sub.title))
            _add(d_terms, s_terms)
            d_const += s_const
        dims.append(_measure(dim.code, "papi_dimension", d_terms, d_const, dim.title))
        _add(total, d_terms)
        total_const += d_const
    out += dims
    out.append(_measure(q.papi.total_code, "papi_total", total, total_const, _PAPI_TOTAL_TITLE))
    return out
