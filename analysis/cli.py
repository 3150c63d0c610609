"""`python -m analysis …`: the argparse skeleton, the shared design options and the `indices` command.

Other subcommands plug in without editing `main`: a module listed in SUBCOMMAND_MODULES that defines
`register_cli(subparsers)` adds its parser(s) there, each with `set_defaults(func=run)` where
`run(args) -> int` returns the exit status.  They can reuse `add_design_arguments` and
`load_inputs`.  User errors (bad column, value, questionnaire) print ONE line on stderr and exit 2;
output files are written atomically, so an error never leaves a partial file.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.data import DataError, DesignColumns, read_totals
from analysis.design import Design, merge_period_strata, totals_split_by_period
from analysis.result import CI_METHODS, blank_suppressed
from analysis.totals import ClusterTotals
from questionnaires.index_spec import IndexSpec

#: modules that may register more subcommands (compare, ranks, sample-size); absent ones are skipped
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "analysis.cli_extras",
    "analysis.topics",
    "analysis.compare",
    "analysis.comparisons",
    "analysis.ranks",
    "analysis.planning",
)


class UsageError(Exception):
    """A user error reported as one line and exit status 2."""


# --------------------------------------------------------------------------- shared options
def add_design_arguments(parser: argparse.ArgumentParser) -> None:
    """FILE, --questionnaire, --by, --weights, --strata, --cluster: how to read and design the data."""
    parser.add_argument("file", metavar="FILE", help="exchange file (.csv or .parquet), docs/contracts.md §3")
    parser.add_argument("--questionnaire", required=True, metavar="ID_OR_FILE",
                        help="shipped questionnaire id (sipas-2017, or ID@VERSION) or a JSON file")  # fmt: skip
    parser.add_argument("--by", action="append", default=[], metavar="COLUMN",
                        help="domain column (agency, district, service_point, channel, month, quarter, year…);"
                        " repeat to cross-classify")  # fmt: skip
    parser.add_argument("--weights", metavar="COL", help="weight column (default: unweighted)")
    parser.add_argument("--strata", metavar="COL", help="stratum column (default: one stratum)")
    parser.add_argument("--cluster", metavar="COL",
                        help="cluster column, e.g. service_point (default: each respondent is a cluster)")  # fmt: skip


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument("--output", metavar="FILE", help="write here instead of standard output")


def load_spec(ref: str) -> IndexSpec:
    """IndexSpec from a questionnaire file path or a shipped id (`id` or `id@version`)."""
    from questionnaires import loader

    try:
        if ref.endswith(".json") or os.sep in ref or Path(ref).is_file():
            return loader.load_file(ref).index_spec()
        qid, _, version = ref.partition("@")
        return loader.load_shipped(qid, int(version) if version else None).index_spec()
    except (KeyError, ValueError, OSError) as exc:
        message = "; ".join(line.strip() for line in str(exc).strip("'\"").splitlines() if line.strip())
        raise UsageError(f"questionnaire {ref!r}: {message}") from exc


def load_inputs(args: argparse.Namespace, *, unit_level: bool = False) -> tuple[IndexSpec, ClusterTotals]:
    """Questionnaire index definition and streamed, validated cluster totals for the parsed options.

    `unit_level=True`: without --cluster, keep respondent-level moments instead of one row per
    respondent (memory flat in n; enough for Taylor estimates, not for replicates or contrasts).
    """
    spec = load_spec(args.questionnaire)
    design = DesignColumns(  # by a period: each period in its own design, as on the dashboard
        by=tuple(dict.fromkeys(args.by)), weights=args.weights, strata=args.strata, cluster=args.cluster,
        period_strata=True,
    )
    if not Path(args.file).is_file():
        raise UsageError(f"file {args.file!r} not found")
    return spec, read_totals(args.file, spec, design, unit_level=unit_level)


def check_output(output: str | None) -> None:
    """Fail before any work when the output file cannot be created (its directory is missing)."""
    if output and not (Path(output).parent or Path(".")).is_dir():
        raise UsageError(f"--output {output!r}: directory {str(Path(output).parent)!r} does not exist")


def write_table(table: pd.DataFrame, fmt: str, output: str | None) -> None:
    """CSV or JSON records to stdout or atomically to `output` (temp file + rename)."""
    text = (
        table.to_json(orient="records", force_ascii=False, indent=1, double_precision=15)
        if fmt == "json"
        else table.to_csv(index=False, lineterminator="\n")
    )
    if not output:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    out = Path(output)
    check_output(output)
    fd, tmp = tempfile.mkstemp(dir=out.parent or ".", prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the result is an ordinary file
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- indices
def indices_table(
    spec: IndexSpec,
    totals: ClusterTotals,
    by: Sequence[str],
    ci: str = "wilson",
    *,
    n_min: int | None = None,
    level: float = 0.95,
    max_halfwidth: float = 0.10,
    replicates: int = 1000,
    seed: int = 1,
) -> pd.DataFrame:
    """All measures for the whole population, then by the cross-classification of `by`.

    Totals read by a period (`read_totals`: strata = stratum × period) estimate each period in its own design;
    the whole population is estimated in the design of the whole span, as without the period."""
    design = Design(spec, totals)
    whole = Design(spec, merge_period_strata(totals)) if totals_split_by_period(totals) else design
    opts: dict[str, Any] = {"level": level, "n_min": n_min, "max_halfwidth": max_halfwidth, "replicates": replicates,
                            "seed": seed}
    try:
        parts = [whole.indices((), ci, **opts)] + ([design.indices(tuple(by), ci, **opts)] if by else [])
    except ImportError as exc:
        raise UsageError(f"--ci {ci}: {exc}") from exc
    return pd.concat(parts, ignore_index=True)


def _run_indices(args: argparse.Namespace) -> int:
    if not 0 < args.level < 1:
        raise UsageError(f"--level must be between 0 and 1, got {args.level}")
    if args.n_min is not None and args.n_min < 0:
        raise UsageError(f"--n-min must be ≥ 0, got {args.n_min}")
    if args.replicates < 1:
        raise UsageError(f"--replicates must be ≥ 1, got {args.replicates}")
    check_output(args.output)
    spec, totals = load_inputs(args, unit_level=args.ci != "bootstrap")
    table = indices_table(
        spec, totals, tuple(dict.fromkeys(args.by)), args.ci, n_min=args.n_min, level=args.level,
        max_halfwidth=args.max_halfwidth, replicates=args.replicates, seed=args.seed,
    )  # fmt: skip
    write_table(blank_suppressed(table), args.format, args.output)
    return 0


def _register_indices(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "indices",
        help="item, element and overall indices with confidence intervals",
        description="Every measure of the questionnaire's index definition (item satisfaction, item mean, "
        "element, overall, PAPI scores) for the whole population and by domain, with CIs.  Suppressed "
        "rows (n < n_min, no answers) keep n but have empty estimates; see the `reason` column.",
    )
    add_design_arguments(p)
    p.add_argument("--ci", choices=CI_METHODS, default="wilson",
                   help="wilson (default), clopper-pearson, logit, korn-graubard: item proportions, other "
                   "measures get the Taylor t interval; taylor, bootstrap: every measure")  # fmt: skip
    p.add_argument("--n-min", type=int, default=None, metavar="N",
                   help="suppress below N answers (default: the questionnaire's, normally 30)")  # fmt: skip
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--max-halfwidth", type=float, default=0.10,
                   help="flag (wide_ci) a CI half-width above this on 0–1 measures (default 0.10)")  # fmt: skip
    p.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates (default 1000)")
    p.add_argument("--seed", type=int, default=1, help="bootstrap seed (default 1)")
    add_output_arguments(p)
    p.set_defaults(func=_run_indices)


# --------------------------------------------------------------------------- skeleton
def build_parser(*, extras: bool = True) -> argparse.ArgumentParser:
    """The full parser; `extras=False` skips importing the plug-in modules (faster `indices` start-up)."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Design-based satisfaction indices, comparisons and ranks (HaiLong analysis).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _register_indices(sub)
    for name in SUBCOMMAND_MODULES if extras else ():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        register = getattr(module, "register_cli", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(extras=not argv or argv[0] != "indices")
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, DataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:  # e.g. an unknown --by column in a totals lookup
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unreadable input, output directory missing, disk full …
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
