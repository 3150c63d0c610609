"""`flask --app wsgi responses export`: stored responses in the analysis exchange format.

One row per response, exactly as docs/contracts.md §3 defines it (docs/exchange-format.md has examples).
Built with two queries (responses, then all their answers) and a pandas pivot, never a query per response,
so 20,000+ responses export in a second or two.  With `--weights volume` each response gets the
post-stratification weight w = N_c / n_c of its cell c = questionnaire × service point × month, from the
service volumes entered per service point and month (`analysis.weights.poststratify`).
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any, TypeVarTuple

import click
import pandas as pd
from flask.cli import AppGroup
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from survey.errors import N_, DomainError, register
from survey.extensions import db
from survey.i18n import LOCAL_TZ
from survey.org.models import Agency, Level, ServicePoint, ServiceVolume, Unit
from survey.questionnaire_versions.models import QuestionnaireVersion
from survey.questionnaire_versions.service import questionnaire_for
from survey.respond.models import Answer, Response

WEIGHTS = ("none", "volume")


register({
    "export_weighting_unknown": N_("unknown weighting %(weights)s (use none or volume)"),
    "export_questionnaire_unknown": N_("unknown questionnaire %(questionnaire)s (loaded: %(loaded)s)"),
    "export_volume_weights": N_("volume weights for %(questionnaire)s: %(problem)s"),
})


class ExportError(DomainError):
    """The export cannot be produced as asked (e.g. volume weights without service volumes)."""


_Ts = TypeVarTuple("_Ts")


@dataclass(frozen=True)
class ExportFilter:
    start: date | None = None  # first local (Asia/Ho_Chi_Minh) day included
    end: date | None = None  # last local day included
    questionnaire: str | None = None  # instrument id

    def apply(self, stmt: Select[*_Ts]) -> Select[*_Ts]:
        # quarantined responses (held, or excluded after review) are in no figure, so in no export either
        stmt = stmt.where(Response.review_status.is_(None))
        if self.start is not None:
            stmt = stmt.where(Response.submitted_at >= _local_midnight(self.start))
        if self.end is not None:
            stmt = stmt.where(Response.submitted_at < _local_midnight(self.end + timedelta(days=1)))
        if self.questionnaire is not None:
            stmt = stmt.where(Response.questionnaire_version_id.in_(
                select(QuestionnaireVersion.id).where(QuestionnaireVersion.instrument == self.questionnaire)))
        return stmt


def _frame(session: Session, stmt: Select[*tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    """Rows of a Core query as a DataFrame, built column-wise (much faster than from Row objects)."""
    rows = session.connection().execute(stmt).all()
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return pd.DataFrame(dict(zip(columns, (list(col) for col in zip(*rows, strict=True)), strict=True)))


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ)


def level_columns(session: Session) -> tuple[list[str], dict[int, dict[str, str]]]:
    """Level codes by rank, and for each unit the code of itself and its ancestors at each level."""
    levels = list(session.scalars(select(Level.code).order_by(Level.rank)))
    units = {uid: (code, level, parent) for uid, code, level, parent in
             session.execute(select(Unit.id, Unit.code, Unit.level_code, Unit.parent_id))}
    paths: dict[int, dict[str, str]] = {}
    for uid in units:
        path: dict[str, str] = {}
        node: int | None = uid
        while node is not None and node in units:
            code, level, parent = units[node]
            path[level] = code
            node = parent
        paths[uid] = path
    return levels, paths


def _item_layout(session: Session, version_ids: list[int]) -> tuple[list[str], dict[int, tuple[str, str]]]:
    """Export columns in display order, and item id → ("scored", code) or ("multi", code)."""
    columns: list[str] = []
    kinds: dict[int, tuple[str, str]] = {}
    for vid in version_ids:
        q, item_ids = questionnaire_for(session, vid)
        for item in q.items():
            if item.is_scored:
                kinds[item_ids[item.code]] = ("scored", item.code)
                cols = [item.code]
            elif item.type == "choice":
                kinds[item_ids[item.code]] = ("multi", item.code)
                cols = [f"{item.code}#{o.value}" for o in item.options]
            else:
                continue
            columns.extend(c for c in cols if c not in columns)
    return columns, kinds


def export_frame(session: Session, flt: ExportFilter | None = None, weights: str = "none") -> pd.DataFrame:
    """The exchange-format table for the responses selected by `flt`, ordered by submission time."""
    flt = flt or ExportFilter()
    if weights not in WEIGHTS:
        raise ExportError("export_weighting_unknown", "weights", weights=repr(weights))
    if flt.questionnaire is not None:
        known = sorted(set(session.scalars(select(QuestionnaireVersion.instrument))))
        if flt.questionnaire not in known:
            raise ExportError("export_questionnaire_unknown", "questionnaire", questionnaire=repr(flt.questionnaire),
                              loaded=", ".join(known) or "none")
    stmt = flt.apply(
        select(Response.id, Response.client_id, Response.submitted_at, QuestionnaireVersion.instrument,
               QuestionnaireVersion.version, Response.questionnaire_version_id, Response.channel,
               Response.language, Agency.code, Agency.unit_id, ServicePoint.code, Response.period)
        .join(QuestionnaireVersion, QuestionnaireVersion.id == Response.questionnaire_version_id)
        .join(Agency, Agency.id == Response.agency_id)
        .join(ServicePoint, ServicePoint.id == Response.service_point_id)
        .order_by(Response.submitted_at, Response.id))
    resp = _frame(session, stmt, ["id", "response_id", "submitted_at", "questionnaire", "questionnaire_version",
                                  "version_id", "channel", "language", "agency", "unit_id", "service_point",
                                  "period"])
    levels, paths = level_columns(session)
    version_ids = sorted(set(resp["version_id"].tolist()))
    if not version_ids and flt.questionnaire:
        version_ids = list(session.scalars(select(QuestionnaireVersion.id).where(
            QuestionnaireVersion.instrument == flt.questionnaire).order_by(QuestionnaireVersion.version)))
    item_columns, kinds = _item_layout(session, version_ids)

    out = pd.DataFrame(index=resp.index)
    out["response_id"] = resp["response_id"].astype("string")
    out["submitted_at"] = pd.Series(
        [t.strftime("%Y-%m-%dT%H:%M:%S+00:00") for t in resp["submitted_at"]], index=resp.index, dtype="string")
    out["questionnaire"] = resp["questionnaire"].astype("string")
    out["questionnaire_version"] = resp["questionnaire_version"].astype("Int64")
    out["channel"] = resp["channel"].astype("string")
    out["language"] = resp["language"].astype("string")
    for level in levels:
        out[level] = pd.Series([paths.get(u, {}).get(level) for u in resp["unit_id"]], index=resp.index,
                               dtype="string")
    out["agency"] = resp["agency"].astype("string")
    out["service_point"] = resp["service_point"].astype("string")
    out["weight"] = pd.Series(float("nan"), index=resp.index, dtype="float64")
    if weights == "volume" and len(resp):
        out["weight"] = _volume_weights(session, resp)
    items = _pivot_answers(session, flt, resp, kinds, item_columns)
    return pd.concat([out, items], axis=1)


def _pivot_answers(session: Session, flt: ExportFilter, resp: pd.DataFrame, kinds: dict[int, tuple[str, str]],
                   columns: list[str]) -> pd.DataFrame:
    empty = pd.DataFrame({c: pd.Series(pd.NA, index=resp.index, dtype="Int64") for c in columns}, index=resp.index)
    if not len(resp) or not columns:
        return empty
    stmt = flt.apply(select(Answer.response_id, Answer.item_id, Answer.value)
                     .join(Response, Response.id == Answer.response_id))
    ans = _frame(session, stmt, ["id", "item_id", "value"])
    ans = ans[ans["item_id"].isin(list(kinds))]
    ans["kind"] = ans["item_id"].map({i: k for i, (k, _) in kinds.items()})
    ans["code"] = ans["item_id"].map({i: c for i, (_, c) in kinds.items()})
    position = pd.Series(resp.index, index=resp["id"])
    scored = ans[(ans["kind"] == "scored") & (ans["value"] != 0)]
    wide = scored.pivot(index="id", columns="code", values="value")
    multi = ans[ans["kind"] == "multi"]
    if len(multi):
        chosen = multi.assign(col=multi["code"] + "#" + multi["value"].astype(str), one=1)
        mwide = chosen.pivot_table(index="id", columns="col", values="one", aggfunc="max")
        answered = multi.drop_duplicates(["id", "code"]).assign(one=1).pivot(index="id", columns="code", values="one")
        for code in answered.columns:
            opt_cols = [c for c in columns if c.startswith(code + "#")]
            mwide = mwide.reindex(columns=sorted(set(mwide.columns) | set(opt_cols)))
            rows = answered.index[answered[code].notna()]
            mwide.loc[rows, opt_cols] = mwide.loc[rows, opt_cols].fillna(0)
        wide = wide.join(mwide, how="outer") if len(wide.columns) else mwide
    wide = wide.reindex(columns=columns)
    wide.index = position.reindex(wide.index).to_numpy()
    wide = wide.reindex(resp.index)
    return wide.astype("Int64")


def _volume_weights(session: Session, resp: pd.DataFrame) -> pd.Series:
    from analysis.weights import WeightingError, poststratify

    vols = pd.DataFrame(session.execute(
        select(ServicePoint.code, ServiceVolume.period, ServiceVolume.dossiers)
        .join(ServicePoint, ServicePoint.id == ServiceVolume.service_point_id)).all(),
        columns=["service_point", "month", "dossiers"])
    vols["month"] = vols["month"].map(lambda d: d.strftime("%Y-%m"))
    frame = pd.DataFrame({"service_point": resp["service_point"],
                          "month": resp["period"].map(lambda d: d.strftime("%Y-%m"))}, index=resp.index)
    weights = pd.Series(float("nan"), index=resp.index, dtype="float64")
    for instrument, rows in resp.groupby("questionnaire").groups.items():
        cells = frame.loc[rows]
        used = vols[vols["service_point"].isin(set(cells["service_point"]))]
        try:
            result = poststratify(cells, used)
        except WeightingError as exc:
            raise ExportError("export_volume_weights", "weights", questionnaire=instrument, problem=str(exc)) from exc
        weights.loc[rows] = result.weights.to_numpy()
    return weights


def write(frame: pd.DataFrame, path: Path | IO[bytes], fmt: str) -> None:
    """Parquet as stored; CSV through the one spreadsheet-safe rule (survey/spreadsheets.py): this file is
    for machines, but someone will open it in Excel, so a text cell that starts like a formula gets a `'`.
    Only text columns are touched (they hold codes); answers, weights and ids stay numbers."""
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        from survey.spreadsheets import neutralise

        safe = frame.copy(deep=False)
        for col in safe.columns:
            if not (pd.api.types.is_numeric_dtype(safe[col]) or pd.api.types.is_bool_dtype(safe[col])):
                safe[col] = safe[col].map(neutralise, na_action="ignore")
        safe.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")


responses_cli = AppGroup("responses", help="Stored responses: export for analysis (docs/exchange-format.md).")


@responses_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default=None,
              help="Default: from the output file's extension.")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First day (local time, inclusive), YYYY-MM-DD.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day (local time, inclusive), YYYY-MM-DD.")
@click.option("--questionnaire", default=None, help="Only this instrument id (e.g. sipas-2017).")
@click.option("--weights", type=click.Choice(WEIGHTS), default="none", show_default=True,
              help="volume: post-stratify to service volume per service point × month.")
@click.option("--output", type=click.Path(path_type=Path, allow_dash=True), default=Path("-"), show_default=True,
              help="Write here; - (the default) is standard output, like every export command.")
def export_cmd(fmt: str | None, start: datetime | None, end: datetime | None, questionnaire: str | None,
               weights: str, output: Path) -> None:
    """One row per response in the analysis exchange format (docs/contracts.md §3)."""
    fmt = fmt or ("parquet" if output.suffix.lower() == ".parquet" else "csv")
    if start and end and end < start:
        click.echo("error: --to is before --from", err=True)
        sys.exit(2)
    flt = ExportFilter(start.date() if start else None, end.date() if end else None, questionnaire)
    try:
        frame = export_frame(db.session, flt, weights)
    except ExportError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if str(output) == "-":  # the data alone on standard output; what happened goes to standard error
        raw = io.BytesIO()
        write(frame, raw, fmt)
        # bytes go to the binary stdout unchanged (click.get_binary_stream is deprecated since Click 8.5)
        click.echo(raw.getvalue() if fmt == "parquet" else raw.getvalue().decode("utf-8"), nl=False)
        target = "standard output"
    else:
        write(frame, output, fmt)
        target = str(output)
    click.echo(f"wrote {len(frame)} responses to {target} ({fmt})", err=True)
