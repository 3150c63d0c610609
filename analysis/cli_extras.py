"""`python -m analysis compare | ranks | sample-size`: subcommands plugged into analysis.cli.

Same conventions as `indices`: the design options of `add_design_arguments`, CSV or JSON output
written atomically, and every user error as one line on stderr with exit status 2 (raised here as
`UsageError`; data problems come from `read_totals` as `DataError`).  Suppressed rows keep their
counts but their estimates are emptied in the output, as in `indices`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.cli import UsageError, add_design_arguments, add_output_arguments, load_inputs, write_table
from analysis.compare import compare_domains, compare_to_whole, screen_changes
from analysis.planning import sample_size, yamane
from analysis.ranks import rank_table
from questionnaires.index_spec import IndexSpec, Measure

__all__ = ["register_cli"]


def _measures(spec: IndexSpec, codes: Sequence[str] | None) -> tuple[Measure, ...]:
    if not codes:
        return spec.measures
    known = {m.code: m for m in spec.measures}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise UsageError(f"measure {unknown[0]!r} is not in the index of {spec.questionnaire} "
                         f"v{spec.version} (have: {', '.join(list(known)[:12])}…)")
    return tuple(known[c] for c in dict.fromkeys(codes))


def _n_min(args: argparse.Namespace, spec: IndexSpec) -> int:
    n = spec.n_min if args.n_min is None else args.n_min
    if n < 0:
        raise UsageError(f"--n-min must be ≥ 0, got {n}")
    return n


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise UsageError(f"--level must be in (0, 1), got {level}")


def _blank(table: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    out = table.copy()
    out.loc[out["suppressed"], list(cols)] = np.nan
    return out


# --------------------------------------------------------------------------- compare
def _run_compare(args: argparse.Namespace) -> int:
    _check_level(args.level)
    by = list(dict.fromkeys(args.by))
    if not by:
        raise UsageError("compare needs a --by column (the units to compare)")
    if args.period:
        if len(by) != 1:
            raise UsageError("--period compares the units of exactly one --by column")
        if not (args.before and args.after):
            raise UsageError("--period needs --before and --after (e.g. --before 2024-Q1 --after 2024-Q2)")
        args.by = [by[0], args.period]
    elif args.before or args.after:
        raise UsageError("--before/--after need --period")
    spec, totals = load_inputs(args, unit_level=True)  # no --cluster: respondent moments (counters)
    measures = _measures(spec, args.measure)
    n_min = _n_min(args, spec)
    try:
        if args.period:
            table = screen_changes(totals, measures, by[0], args.period, args.before, args.after,
                                   n_min=n_min, level=args.level, fdr=args.fdr)
            table = _blank(table, ["estimate_before", "estimate_after", "change", "se", "ci_low", "ci_high",
                                   "t", "p_value", "p_bh"])
        elif args.domains:
            table = compare_domains(totals, measures, by, args.domains[0], args.domains[1],
                                    n_min=n_min, level=args.level)
            table = _blank(table, ["estimate_a", "estimate_b", "difference", "se", "ci_low", "ci_high", "t",
                                   "p_value"])
        else:
            table = compare_to_whole(totals, measures, by, n_min=n_min, level=args.level, alpha=args.alpha)
            table = _blank(table, ["estimate", "difference", "se", "ci_low", "ci_high", "t", "p_value"])
    except KeyError as exc:
        raise UsageError(exc.args[0]) from exc
    write_table(table, args.format, args.output)
    return 0


def _register_compare(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "compare",
        help="differences between domains or periods, each unit vs the whole (Holm), change screening (BH)",
        description="Differences estimated inside one design (Taylor SE of the difference, t test with "
        "design df).  Modes: --domains A B (A − B; with several --by columns name cells as A1:2024-Q1, "
        "so one agency can be compared across periods); --vs-whole (each unit − whole population, Holm "
        "adjusted per measure; the default); --period COL --before P --after P (change of every unit, "
        "Benjamini–Hochberg adjusted per measure).",
    )
    add_design_arguments(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--domains", nargs=2, metavar=("A", "B"), help="compare domain A with domain B of --by")
    mode.add_argument("--vs-whole", action="store_true", help="each domain against the whole (default)")
    mode.add_argument("--period", metavar="COL", help="period column (month, quarter, year…) for changes")
    p.add_argument("--before", metavar="P", help="earlier period value, e.g. 2024-Q1")
    p.add_argument("--after", metavar="P", help="later period value, e.g. 2024-Q2")
    p.add_argument("--measure", action="append", metavar="CODE",
                   help="measure code (item, element, overall…); repeat; default all")
    p.add_argument("--n-min", type=int, default=None, metavar="N",
                   help="domains below N answers are suppressed and not tested (default: questionnaire's)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--alpha", type=float, default=0.05, help="Holm family-wise level for `differs`")
    p.add_argument("--fdr", type=float, default=0.05, help="Benjamini–Hochberg level for `flagged`")
    add_output_arguments(p)
    p.set_defaults(func=_run_compare)


# --------------------------------------------------------------------------- ranks
def _run_ranks(args: argparse.Namespace) -> int:
    _check_level(args.level)
    by = list(dict.fromkeys(args.by))
    if not by:
        raise UsageError("ranks needs a --by column (the units to rank)")
    if args.replicates < 2:
        raise UsageError(f"--replicates must be ≥ 2, got {args.replicates}")
    if args.top_k is not None and args.top_k < 1:
        raise UsageError(f"--top-k must be ≥ 1, got {args.top_k}")
    spec, totals = load_inputs(args, unit_level=True)  # no --cluster: respondent moments (counters)
    codes = args.measure or [next((m.code for m in spec.measures if m.kind == "overall"),
                                  spec.measures[-1].code)]
    measures = _measures(spec, codes)
    n_min = _n_min(args, spec)
    parts = [rank_table(totals, m, by, replicates=args.replicates, seed=args.seed, n_min=n_min,
                        top_k=args.top_k, level=args.level) for m in measures]
    write_table(pd.concat(parts, ignore_index=True), args.format, args.output)
    return 0


def _register_ranks(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ranks",
        help="league table with rank intervals, P(top k), quartile probabilities and funnel limits",
        description="Ranks the domains of --by (1 = most satisfied) from seeded replicates: a Rao–Wu "
        "bootstrap of the clusters with --cluster, or, without --cluster (every respondent a sampled unit, "
        "e.g. --strata service_point: the counters design), normal draws on the logit scale from each "
        "domain's Taylor interval; the rank_method column says which.  Point rank, 95%% rank interval, "
        "P(rank ≤ k), probability of each performance quartile, and funnel-plot limits (95%%, 99.8%%) "
        "around the whole population.  Domains below --n-min are listed but never ranked.",
    )
    add_design_arguments(p)
    p.add_argument("--measure", action="append", metavar="CODE",
                   help="measure to rank (default: the overall index); repeat for several")
    p.add_argument("--top-k", type=int, default=None, metavar="K",
                   help="report P(rank ≤ K) (default: a quarter of the ranked units)")
    p.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates (default 1000)")
    p.add_argument("--seed", type=int, default=1, help="bootstrap seed (default 1)")
    p.add_argument("--n-min", type=int, default=None, metavar="N",
                   help="suppress (never rank) below N answers (default: the questionnaire's)")
    p.add_argument("--level", type=float, default=0.95, help="rank-interval level (default 0.95)")
    add_output_arguments(p)
    p.set_defaults(func=_run_ranks)


# --------------------------------------------------------------------------- sample-size
def _run_sample_size(args: argparse.Namespace) -> int:
    rows = []
    try:
        rows.append({"formula": "cochran", "margin": args.margin, "p": args.p, "deff": args.deff,
                     "population": args.population, "confidence": args.confidence,
                     "n": sample_size(args.margin, args.p, args.deff, args.population, args.confidence)})
        if args.population is not None:
            rows.append({"formula": "yamane", "margin": args.margin, "p": 0.5, "deff": 1.0,
                         "population": args.population, "confidence": 0.95,
                         "n": yamane(args.population, args.margin)})
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    table = pd.DataFrame(rows)
    table["population"] = table["population"].astype("Int64")
    write_table(table, args.format, args.output)
    return 0


def _register_sample_size(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sample-size",
        help="respondents needed for a margin of error (Cochran with design effect; Yamane)",
        description="n = z²·p(1−p)·deff/e², with the finite-population correction n/(1+(n−1)/N) when "
        "--population is given, rounded up; with --population also the Ministry's Yamane formula "
        "N/(1+N·e²).",
    )
    p.add_argument("--margin", type=float, required=True, metavar="E",
                   help="CI half-width as a proportion, e.g. 0.05 for ±5 points")
    p.add_argument("--p", type=float, default=0.5, help="expected proportion satisfied (default 0.5)")
    p.add_argument("--deff", type=float, default=1.0, help="design effect (default 1; clustered kiosks ~1.5–3)")
    p.add_argument("--population", type=int, default=None, metavar="N", help="population size (dossiers)")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    add_output_arguments(p)
    p.set_defaults(func=_run_sample_size)


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Called by analysis.cli.build_parser."""
    _register_compare(sub)
    _register_ranks(sub)
    _register_sample_size(sub)
