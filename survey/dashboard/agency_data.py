"""The agency page's figures as tables: every number comes from survey.results (i.e. from analysis); this
module only picks rows and columns and attaches labels."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from flask_babel import gettext as _

from survey.dashboard import linked_figures as lf
from survey.dashboard.charts import Chart, TrendPoint, trend_chart
from survey.dashboard.tables import CI, DIFF, DIFF_CI, INT, NEFF, NUM, PCT, PVAL, Col, Table
from survey.results import Comparison, Distributions, IndexResult
from survey.results.indices import hidden_beside_total
from survey.results.periods import period_name

SUMMARY_KINDS = ("overall", "element", "papi_total", "papi_dimension", "papi_subdimension")
SHARE_KINDS = ("overall", "element", "item")


def _f(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _at_most(n_eff: float | None, n: int) -> float | None:
    return None if n_eff is None else min(n_eff, float(n))


def _title(row: Any, lang: str) -> str:
    return (row["title_en"] if lang == "en" else row["title_vi"]) or row["measure"]


def _value_kind(kind: str) -> str:
    return PCT if kind in SHARE_KINDS else NUM


def index_tables(res: IndexResult, lang: str) -> list[Table]:
    """'indices': overall, elements (and PAPI scores); 'items': every scale item with its mean score."""
    t = res.table
    # n_eff = p(1−p)/V counts yes/no answers: an index averages several per response, so it can exceed n
    # (R survey gives the same V; docs/methodology-design.md "n_eff of an index"): shown at most n
    summary = Table("indices", _("Overall and element indices (n_eff: effective number of responses, at most n)"), [
        Col("measure", _("Code")), Col("title", _("Index")), Col("estimate", _("Estimate"), PCT),
        Col("ci", _("95% CI"), CI), Col("n", "n", INT), Col("n_eff", "n_eff", NEFF), Col("method", _("CI method"))])
    items = Table("items", _("Item indices (share satisfied)"), [
        Col("measure", _("Code")), Col("title", _("Item")), Col("estimate", _("Share satisfied"), PCT),
        Col("ci", _("95% CI"), CI), Col("mean", _("Mean score"), NUM), Col("n", "n", INT),
        Col("method", _("CI method"))])
    means = {r["measure"][:-5]: r for _i, r in t[t["kind"] == "item_mean"].iterrows()} if len(t) else {}
    for _i, r in t.iterrows():
        row = {"measure": r["measure"], "title": _title(r, lang), "estimate": _f(r["estimate"]),
               "ci": (_f(r["ci_low"]), _f(r["ci_high"])), "n": int(r["n"]),
               "n_eff": _at_most(_f(r["n_eff_design"]), int(r["n"])),
               "method": r["method"], "_suppressed": bool(r["suppressed"]), "_n": int(r["n"]),
               "_kind": _value_kind(r["kind"])}
        if r["kind"] in SUMMARY_KINDS:
            summary.rows.append(row)
        elif r["kind"] == "item":
            m = means.get(r["measure"])
            row["mean"] = _f(m["estimate"]) if m is not None else None
            items.rows.append(row)
    return [summary, items]


def overall_row(res: IndexResult) -> pd.Series | None:
    t = res.table
    rows = t[t["kind"] == "overall"] if len(t) else t
    return rows.iloc[0] if len(rows) else None


def trend(res: IndexResult, lang: str, kind: str, beside_total: bool = False) -> tuple[Table, Chart]:
    """Overall index by period, with the CI band (charts.trend_chart).

    `beside_total`: the page's headline covers the same months.  When the headline minus the periods
    shown would give away a period with too few responses (survey.results.indices.hidden_beside_total), the
    shown periods with the fewest responses are hidden too and say why: the headline stays."""
    t = res.table
    rows = t[t["kind"] == "overall"].sort_values("domain") if len(t) else t
    label = {"month": _("Month"), "quarter": _("Quarter")}.get(kind) or _("Year")
    # every period in one design with strata = service point × period, which for each period IS its own design:
    # estimate, interval, n and n_eff equal a page of that period alone (docs/methodology-design.md, "One period,
    # one interval"; survey/results/design.py:period_stratum)
    table = Table("trend", _("Overall index by period (each interval as on a page of that period alone)"), [
        Col("period", label), Col("estimate", _("Estimate"), PCT), Col("ci", _("95% CI"), CI),
        Col("n", "n", INT)])
    points = []
    primary = [bool(s) for s in rows["suppressed"]] if len(rows) else []
    ns = [int(k) for k in rows["n"]] if len(rows) else []
    hidden = hidden_beside_total(ns, primary) if beside_total else primary
    for (_i, r), first, sup in zip(rows.iterrows(), primary, hidden, strict=True):
        row = {"period": period_name(r["domain"]), "estimate": _f(r["estimate"]),
               "ci": (_f(r["ci_low"]), _f(r["ci_high"])), "n": int(r["n"]), "_suppressed": sup,
               "_n": int(r["n"]), "_kind": PCT}
        why = _("hidden: with the total above, it would give away the periods with too few responses") \
            if sup and not first else ""
        if why:
            row["_why"] = why
        table.rows.append(row)
        points.append(TrendPoint(r["domain"], None, None, None, int(r["n"]), True, why) if sup else
                      TrendPoint(r["domain"], _f(r["estimate"]), _f(r["ci_low"]), _f(r["ci_high"]), int(r["n"])))
    chart = trend_chart("trend", points, title=_("Overall index by period with its 95% confidence interval"),
                        lang=lang)
    return table, chart


def comparison_table(cmp: Comparison, lang: str, unit_name: str) -> Table:
    table = Table("comparison", _("Compared with the whole city"), [
        Col("title", _("Index")), Col("estimate", unit_name, PCT), Col("reference", _("Whole city"), PCT),
        Col("difference", _("Difference"), DIFF), Col("ci", _("95% CI of the difference"), DIFF_CI),
        Col("p_value", _("p-value"), PVAL), Col("n", "n", INT)])
    t = cmp.table
    for _i, r in t.iterrows():
        if r["kind"] not in SUMMARY_KINDS:
            continue
        table.rows.append({"title": _title(r, lang), "estimate": _f(r["estimate"]), "reference": _f(r["reference"]),
                           "difference": _f(r["difference"]), "ci": (_f(r["ci_low"]), _f(r["ci_high"])),
                           "p_value": _f(r["p_value"]), "n": int(r["n"]), "_suppressed": bool(r["suppressed"]),
                           "_n": int(r["n"]), "_kind": _value_kind(r["kind"]),
                           **({"_why": lf.reference_note()} if bool(r.get("reference_hidden", False)) else {})})
    return table


#: False: the answer counts stay beside a hidden share, as before (the tests' check must then recover the share)
ANSWERS_FOLLOW_ESTIMATES = True


def distribution_tables(dist: Distributions, n_min: int | None = None, res: IndexResult | None = None
                        ) -> list[Table]:
    """Answers per item and expectations.  The counts of an item are its share: satisfied answers over the
    answers with an opinion.  So wherever the item's share is hidden — its row of `res` (the page's indices,
    with the protection decided for every page already applied: survey/results/protection.py) is suppressed,
    or the item's answers are fewer than n_min — its counts and shares are hidden with it, and say why
    (docs/methodology-design.md, "Totals beside suppressed rows").  `n_min` = linked_figures.HIDE_ALL hides
    every item and option (the node is hidden to protect a small group)."""
    if n_min is None:
        from flask import current_app

        n_min = int(current_app.config["HAILONG_N_MIN"])
    hidden_share = _hidden_items(res)
    levels = Table("distribution", _("Answers per item"), [
        Col("item", _("Code")), Col("item_text", _("Item")), Col("label", _("Answer")), Col("count", _("Count"), INT),
        Col("share", _("Share of answers"), PCT)])
    totals: dict[str, int] = {}
    level_rows = dist.levels.to_dict("records")
    for r in level_rows:
        totals[r["item"]] = totals.get(r["item"], 0) + int(r["count"])
    for r in level_rows:
        total = totals[r["item"]]
        # the item's own n (answers with an opinion) when its share is hidden: the note matches the items table
        sup, n = (True, hidden_share[r["item"]]) if r["item"] in hidden_share else (total < n_min, total)
        levels.rows.append(_count_row(r, sup, n))
    _mark_first(levels)
    exp = Table("expectations", _("What citizens want improved"), [
        Col("item", _("Code")), Col("item_text", _("Question")), Col("label", _("Option")),
        Col("count", _("Count"), INT), Col("share", _("Share of respondents"), PCT)])
    for r in dist.expectations.to_dict("records"):
        exp.rows.append(_count_row(r, dist.responses < n_min, dist.responses))
    _mark_first(exp)
    return [levels, exp]


def _hidden_items(res: IndexResult | None) -> dict[str, int]:
    """item code → its n, for the items whose share `res` hides (too few answers, or protected)."""
    if res is None or not ANSWERS_FOLLOW_ESTIMATES or not len(res.table):
        return {}
    t = res.table
    rows = t[(t["kind"] == "item") & t["suppressed"].astype(bool)]
    return {str(m): int(k) for m, k in zip(rows["measure"], rows["n"], strict=True)}


def _count_row(r: dict[Any, Any], suppressed: bool, n: int) -> dict[str, Any]:
    """A row of answer counts: a hidden row keeps neither its count nor its share (the count gives the share)."""
    hide_count = suppressed and ANSWERS_FOLLOW_ESTIMATES
    return {"item": r["item"], "item_text": r["item_text"], "label": r["label"],
            "count": None if hide_count else int(r["count"]), "share": _f(r["share"]), "_kind": PCT,
            "_first": False, "_suppressed": suppressed, "_n": n}


def _mark_first(table: Table) -> None:
    prev = None
    for r in table.rows:
        r["_first"] = r["item"] != prev
        prev = r["item"]


