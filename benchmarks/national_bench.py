"""The whole country: dashboard speed and count-table sizes at 10,000,000 responses on PostgreSQL.

    .venv/bin/python benchmarks/national_bench.py [--responses 10000000] [--repeat 20] [--keep NAME | --reuse NAME]
        [--modes live,warm] [--export /tmp/national.parquet] [--sipas-channels qr,web,paper] [--fresh [--live N]]

The tree is a national SIPAS deployment after the July 2025 reform (no district level): the country, 34
provinces, 3,300 communes; per province 20 departments with 2 service points each, per commune a People's
Committee with 2 or 3 service points: 10,020 service points.  10 M responses over 12 months, kiosk responses
(60%) on the counter-quick questionnaire, QR/web/paper on SIPAS 2017, as benchmarks/dashboard_bench.py.

Only the count tables are loaded (`response_tally`, `answer_tally`, `moment_tally`), generated per cell
with NumPy from respondent-level answers simulated in memory and written with binary COPY — no `response`
or `answer` rows: dashboard pages never read them (they read the newest response id, which the live mode's
stored responses provide; the response id sequence is moved past the 10 M ids the cells claim).  The
moment cells are checked against `survey.respond.moments.grams` (the code that maintains them) on a sample.

Pages timed (live and warm as in dashboard_bench.py): the national comparison of provinces (Home Affairs
at the country), a province's Home Affairs (a unit manager of one province: its communes compared, and the
agencies of that province), each on both questionnaires.  Also printed: the count tables' rows and sizes,
and the serving process's RSS.  `--fresh`: every page in a new process (its first request, then `--live N`
requests after new responses), with app CPU and the process's PEAK RSS — the memory one worker needs for the
page, which the RSS after a run does not show.  `--export FILE` writes a 10 M-respondent SIPAS exchange file
(Parquet) of the same shape and times `python -m analysis indices` on it.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import dashboard_bench as dash  # noqa: E402

from questionnaires.loader import load_file, shipped  # noqa: E402
from survey import create_app  # noqa: E402
from survey.auth.models import User  # noqa: E402
from survey.auth.passwords import hash_password  # noqa: E402
from survey.database import make_engine  # noqa: E402
from survey.extensions import db  # noqa: E402
from survey.migrate import upgrade  # noqa: E402
from survey.org.models import Agency, Level, ServicePoint, Unit  # noqa: E402
from survey.questionnaire_versions.service import questionnaire_for, store_questionnaire  # noqa: E402
from survey.respond import moments  # noqa: E402

MONTHS = dash.MONTHS
CHANNELS = ("kiosk", "qr", "web", "paper")
CHANNEL_P = np.array([0.6, 0.25, 0.1, 0.05])
N_PROVINCES, N_COMMUNES, DEPARTMENTS = 34, 3300, 20
PG_EPOCH = date(2000, 1, 1)


# --------------------------------------------------------------------------- tree
def build_tree(session) -> dict[str, list[int]]:
    """Country → 34 provinces → 3,300 communes; agencies and service points (bulk inserts, explicit ids)."""
    for rank, (code, vi, en) in enumerate([("country", "Quốc gia", "Country"),
                                           ("province", "Tỉnh/Thành phố", "Province"),
                                           ("commune", "Xã/Phường", "Commune")]):
        session.add(Level(code=code, rank=rank, name_vi=vi, name_en=en))
    session.flush()
    units = [{"id": 1, "code": "VN", "name_vi": "Việt Nam", "name_en": "Viet Nam", "level_code": "country",
              "parent_id": None}]
    agencies: list[dict] = []
    points: list[dict] = []

    def agency(code: str, unit_id: int, n_points: int) -> None:
        aid = len(agencies) + 1
        agencies.append({"id": aid, "code": code, "name_vi": f"Cơ quan {code}", "name_en": f"Agency {code}",
                         "unit_id": unit_id})
        for k in range(n_points):
            points.append({"id": len(points) + 1, "code": f"{code}-{k + 1}", "name_vi": f"Điểm {code} {k + 1}",
                           "name_en": f"Point {code} {k + 1}", "agency_id": aid})

    per_province = np.full(N_PROVINCES, N_COMMUNES // N_PROVINCES)
    per_province[: N_COMMUNES % N_PROVINCES] += 1
    provinces = []
    for p in range(N_PROVINCES):
        pid = len(units) + 1
        provinces.append(pid)
        units.append({"id": pid, "code": f"P{p + 1:02d}", "name_vi": f"Tỉnh {p + 1}", "name_en": f"Province {p + 1}",
                      "level_code": "province", "parent_id": 1})
        for d in range(DEPARTMENTS):
            agency(f"P{p + 1:02d}-S{d + 1:02d}", pid, 2)
        for c in range(int(per_province[p])):
            cid = len(units) + 1
            units.append({"id": cid, "code": f"P{p + 1:02d}C{c + 1:03d}", "name_vi": f"Xã {p + 1}.{c + 1}",
                          "name_en": f"Commune {p + 1}.{c + 1}", "level_code": "commune", "parent_id": pid})
            agency(f"P{p + 1:02d}C{c + 1:03d}-UB", cid, 3 if (c * 37 + p) % 100 < 62 else 2)
    session.execute(insert(Unit.__table__), units)
    session.execute(insert(Agency.__table__), agencies)
    session.execute(insert(ServicePoint.__table__), points)
    if session.get_bind().dialect.name == "postgresql":
        for table in ("unit", "agency", "service_point"):
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT max(id) FROM {table}))"))
    for username, role, unit_id in [("admin", "admin", None), ("noivu", "home_affairs", None),
                                    ("tinh1", "unit_manager", provinces[0])]:
        session.add(User(username=username, display_name=username, password_hash=hash_password(dash.PASSWORD),
                         role=role, unit_id=unit_id))
    session.flush()
    return {"points": [p["id"] for p in points], "provinces": provinces}


# --------------------------------------------------------------------------- binary COPY
def _copy_binary(cursor, table: str, fields: list[tuple[str, str, np.ndarray]]) -> None:
    """COPY rows given column by column: (name, PostgreSQL binary kind, array); kinds i2/i4/i8/date (days since
    2000-01-01), text (an array of one fixed-width bytes value per call: callers group rows by channel), bytea
    (a 2-D uint8 array, one row per database row).  Builds the binary COPY stream with one structured array."""
    n = len(fields[0][2])
    layout: list[tuple[str, object]] = [("nf", ">i2")]
    widths = {"i2": ">i2", "i4": ">i4", "i8": ">i8", "date": ">i4"}
    for k, (_name, kind, arr) in enumerate(fields):
        layout.append((f"l{k}", ">i4"))
        if kind in widths:
            layout.append((f"v{k}", widths[kind]))
        elif kind == "text":
            layout.append((f"v{k}", f"S{arr.dtype.itemsize}"))
        else:
            layout.append((f"v{k}", (np.uint8, arr.shape[1])))
    rows = np.empty(n, dtype=np.dtype(layout))
    rows["nf"] = len(fields)
    for k, (_name, kind, arr) in enumerate(fields):
        size = {"i2": 2, "i4": 4, "i8": 8, "date": 4}.get(kind, arr.dtype.itemsize if kind == "text" else arr.shape[-1])
        rows[f"l{k}"] = size
        rows[f"v{k}"] = arr
    cols = ", ".join(name for name, _k, _a in fields)
    with cursor.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
        step = max(1, (64 << 20) // rows.dtype.itemsize)
        for i in range(0, n, step):
            copy.write(rows[i:i + step].tobytes())
        copy.write(struct.pack(">h", -1))


def _without_constraints(cursor, tables: tuple[str, ...]) -> list[str]:
    """Drop the keys, foreign keys and indexes of `tables` for the bulk load (as pg_restore loads data before
    building them: checking three foreign keys per row made COPY crawl); returns the SQL that restores them."""
    cursor.execute("SELECT conname, conrelid::regclass::text, pg_get_constraintdef(oid), contype FROM pg_constraint "
                   "WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('p', 'f') ORDER BY contype DESC",
                   (list(tables),))
    constraints = cursor.fetchall()
    cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND NOT indexname = ANY(%s)",
                   (list(tables), [c[0] for c in constraints]))
    indexes = cursor.fetchall()
    for name, table, _d, _t in reversed(constraints):  # foreign keys first, then primary keys
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for name, _d in indexes:
        cursor.execute(f"DROP INDEX {name}")
    return ([f"ALTER TABLE {t} ADD CONSTRAINT {n} {d}" for n, t, d, _ in constraints]
            + [d for _n, d in indexes])


def _days(month_idx: np.ndarray) -> np.ndarray:
    return np.array([(m - PG_EPOCH).days for m in MONTHS], dtype=np.int32)[month_idx]


# --------------------------------------------------------------------------- simulated answers per cell
def _simulate(rng: np.random.Generator, q, cell_p_sat: np.ndarray, cell_n: np.ndarray) -> dict[str, np.ndarray]:
    """Respondent-level answers (-1 = not answered, 0 = no opinion) of every cell's respondents, cells in order."""
    p_sat = np.repeat(cell_p_sat, cell_n)
    r = len(p_sat)
    out: dict[str, np.ndarray] = {}
    for it in q.items():
        if it.type != "scale":
            continue
        sat = np.array(sorted(it.scale.satisfied))
        other = np.array([v for v in it.scale.values if v not in it.scale.satisfied])
        is_sat = rng.random(r) < p_sat
        v = np.where(is_sat, sat[rng.integers(0, len(sat), r)], other[rng.integers(0, len(other), r)])
        if it.offers_no_opinion:  # 0 = "no opinion": stored as an answer, not scored
            v = np.where(rng.random(r) < 0.05, 0, v)
        if not it.required:  # -1 = not answered
            v = np.where(rng.random(r) < 0.8, v, -1)
        out[it.code] = v.astype(np.int8)
    return out


def _cell_triangles(spec, answers: dict[str, np.ndarray], cell_n: np.ndarray) -> np.ndarray:
    """cells × packed upper-triangle int32 Gram entries (u = (satisfied, value, answered) per scored item, as
    analysis.totals.unit_gram builds it).  An entry pairs one variable of item i with one of item j, and both
    are functions of the two answers: so per item pair, count the cells' (answer i, answer j) combinations
    with one bincount and map the counts to the 9 products with a small matrix — 406 passes over the
    respondents for SIPAS instead of a Gram product per cell."""
    items = tuple(spec.items)
    k, width = len(items), 1 + max(max(spec.items[c].values) for c in items)
    iu = np.triu_indices(3 * k)
    cells = len(cell_n)
    base = np.repeat(np.arange(cells, dtype=np.int64), cell_n) * (width * width)
    vals, feats = [], []
    for code in items:
        vals.append(np.maximum(answers[code], 0).astype(np.int64) if code in answers
                    else np.zeros(len(base), dtype=np.int64))
        f = np.zeros((width, 3))
        f[list(spec.items[code].satisfied), 0] = 1
        f[:, 1] = np.arange(width)
        f[1:, 2] = 1
        feats.append(f)
    prods: dict[tuple[int, int], np.ndarray] = {}
    for i in range(k):
        for j in range(i, k):
            t = np.bincount(base + vals[i] * width + vals[j], minlength=cells * width * width)
            m = np.einsum("xa,yb->xyab", feats[i], feats[j]).reshape(width * width, 9)
            prods[i, j] = np.rint(t.reshape(cells, width * width).astype(np.float64) @ m).astype(np.int32)
    # packed order: row variable 3i+a, then its columns 3i+a … 3k−1 (item i's own from b = a, then items j > i)
    pieces = []
    for i in range(k):
        for a in range(3):
            pieces.append(prods[i, i][:, [3 * a + b for b in range(a, 3)]])
            pieces.extend(prods[i, j][:, 3 * a: 3 * a + 3] for j in range(i + 1, k))
    out = np.concatenate(pieces, axis=1)
    assert out.shape[1] == len(iu[0])
    return out


def load(session, n_responses: int, seed: int = 1, sipas_channels: tuple[str, ...] = ("qr", "web", "paper")
         ) -> dict[str, int]:
    """Tree, questionnaires and generated count tables; returns rows per table.  `sipas_channels` leaves SIPAS
    channels out of the load (their share of the responses is then not stored: a shorter load on a busy
    machine; the SIPAS pages then read 1 or 2 channels' cells per service point and month)."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    tree = build_tree(session)
    qvs = {}
    for path in shipped():
        out = store_questionnaire(session, load_file(path))
        qvs[out.record.instrument] = out.record
    session.commit()
    points = np.array(tree["points"], dtype=np.int64)
    n_sp = len(points)
    size = rng.gamma(2.0, 1.0, n_sp)
    quality = rng.uniform(0.55, 0.95, n_sp)
    p = (size / size.sum())[:, None, None] * np.full(12, 1 / 12)[None, :, None] * CHANNEL_P[None, None, :]
    counts = rng.multinomial(n_responses, p.ravel()).reshape(n_sp, 12, 4)
    print(f"  tree: {n_sp:,} service points; cells drawn in {time.perf_counter() - t0:.0f} s", flush=True)
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        restore = _without_constraints(cur, ("response_tally", "answer_tally", "moment_tally"))
    raw.commit()
    sizes = {"response_tally": 0, "answer_tally": 0, "moment_tally": 0}
    next_id = 0
    sipas = [CHANNELS.index(c) for c in sipas_channels]
    for name, chans in (("counter-quick", [0]), ("sipas-2017", sipas)):
        q, item_ids = questionnaire_for(session, qvs[name].id)
        spec = q.index_spec()
        qv = qvs[name].id
        for ch in chans:
            t1 = time.perf_counter()
            sp_i, m_i = np.nonzero(counts[:, :, ch])
            cell_n = counts[sp_i, m_i, ch].astype(np.int64)
            answers = _simulate(rng, q, quality[sp_i], cell_n)
            label = np.array([CHANNELS[ch].encode()])
            base = [("questionnaire_version_id", "i4", np.full(len(sp_i), qv, dtype=np.int32)),
                    ("service_point_id", "i4", points[sp_i].astype(np.int32)),
                    ("period", "date", _days(m_i)), ("channel", "text", np.repeat(label, len(sp_i)))]
            with raw.cursor() as cur:
                _copy_binary(cur, "response_tally", [*base, ("count", "i4", cell_n.astype(np.int32))])
                sizes["response_tally"] += len(sp_i)
                # answer_tally: per (cell, item, value), from the simulated answers (scale) or binomial (choice)
                cell_of = np.repeat(np.arange(len(sp_i)), cell_n)
                for it in q.items():
                    if it.type == "scale":
                        values = [*it.scale.values, *([0] if it.offers_no_opinion else [])]
                        width = max(values) + 2  # value + 1: column 0 counts the unanswered
                        tally = np.bincount(cell_of * width + answers[it.code] + 1, minlength=len(sp_i) * width)
                        tally = tally.reshape(len(sp_i), width)
                        answered_rows = [(v, tally[:, v + 1]) for v in values]
                    elif it.type == "choice":
                        answered_rows = [(o.value, rng.binomial(cell_n, 0.25)) for o in it.options]
                    else:
                        continue
                    for v, c in answered_rows:
                        keep = c > 0
                        if not keep.any():
                            continue
                        _copy_binary(cur, "answer_tally", [(nm, kd, arr[keep]) for nm, kd, arr in base] + [
                            ("item_id", "i4", np.full(int(keep.sum()), item_ids[it.code], dtype=np.int32)),
                            ("value", "i2", np.full(int(keep.sum()), v, dtype=np.int16)),
                            ("count", "i4", c[keep].astype(np.int32))])
                        sizes["answer_tally"] += int(keep.sum())
                tri = _cell_triangles(spec, answers, cell_n)
                if ch == chans[0]:  # the generated Gram equals the maintained one (a sample of cells)
                    for c in rng.choice(len(sp_i), 20, replace=False):
                        lo = int(cell_n[:c].sum())
                        sub = {k: np.maximum(v[lo:lo + cell_n[c]], 0).astype(np.int64) for k, v in answers.items()}
                        g = moments.grams(spec, np.zeros(int(cell_n[c]), dtype=np.int64), 1, sub)[0]
                        assert moments.pack(g) == tri[c].astype("<i4").tobytes(), "generated Gram differs"
                last = next_id + np.cumsum(cell_n)
                next_id = int(last[-1])
                _copy_binary(cur, "moment_tally", [*base, ("respondents", "i4", cell_n.astype(np.int32)),
                                                   ("gram", "bytea", tri.astype("<i4").view(np.uint8)),
                                                   ("last_response_id", "i8", last.astype(np.int64))])
                sizes["moment_tally"] += len(sp_i)
            raw.commit()
            print(f"  {name} / {CHANNELS[ch]}: {len(sp_i):,} cells, {int(cell_n.sum()):,} respondents, "
                  f"{time.perf_counter() - t1:.0f} s", flush=True)
    t1 = time.perf_counter()
    with raw.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1GB'")
        for sql in restore:
            cur.execute(sql)
    raw.commit()
    print(f"  keys, foreign keys and indexes built in {time.perf_counter() - t1:.0f} s", flush=True)
    # responses stored later (live mode) must have higher ids than every cell's last_response_id
    session.execute(text(f"SELECT setval(pg_get_serial_sequence('response', 'id'), {next_id + 1})"))
    session.commit()
    print(f"  count tables generated in {time.perf_counter() - t0:.0f} s: {sizes}", flush=True)
    return sizes


def table_sizes(session) -> list[tuple[str, int, float, float]]:
    """(table, rows, table MB incl. TOAST, index MB)."""
    out = []
    for table in ("response_tally", "answer_tally", "moment_tally"):
        rows = session.scalar(text(f"SELECT count(*) FROM {table}"))
        total, idx = session.execute(text(f"SELECT pg_table_size('{table}'), pg_indexes_size('{table}')")).one()
        out.append((table, int(rows), total / 2**20, idx / 2**20))
    return out


def pages(app) -> list[tuple[str, str, str]]:
    return [
        ("national: provinces compared", "noivu", "/homeaffairs/?level=province"),
        ("national: provinces compared, SIPAS", "noivu", "/homeaffairs/?level=province&questionnaire=__sipas__"),
        ("province manager: communes compared", "tinh1", "/homeaffairs/"),
        ("province manager: communes, SIPAS", "tinh1", "/homeaffairs/?questionnaire=__sipas__"),
        ("province: its agencies (drill-down)", "noivu", "/homeaffairs/unit/__P01__"),
        ("province: its agencies, SIPAS", "noivu", "/homeaffairs/unit/__P01__?questionnaire=__sipas__"),
        ("national: provinces compared, SIPAS E1", "noivu", "/homeaffairs/?level=province&questionnaire=__sipas__"
                                                            "&measure=E1"),
    ]


# --------------------------------------------------------------------------- the 10 M export and the analysis CLI
def write_export(path: Path, n: int, seed: int = 3) -> None:
    """A SIPAS 2017 exchange file of n respondents in the national shape (province, commune, service point,
    month), written in row groups of 1 M."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from questionnaires.loader import load_shipped

    rng = np.random.default_rng(seed)
    q = load_shipped("sipas-2017")
    n_sp = 10_020
    province = np.sort(rng.integers(0, N_PROVINCES, n_sp))
    commune = province * 100 + rng.integers(0, N_COMMUNES // N_PROVINCES, n_sp)
    quality = rng.uniform(0.55, 0.95, n_sp)
    share = rng.gamma(2.0, 1.0, n_sp)
    share /= share.sum()
    writer = None
    try:
        for start in range(0, n, 1_000_000):
            m = min(1_000_000, n - start)
            sp = rng.choice(n_sp, m, p=share)
            cols = {"response_id": pa.array(np.arange(start, start + m, dtype=np.int64)),
                    "province": pa.array([f"P{x + 1:02d}" for x in province[sp]]).dictionary_encode(),
                    "commune": pa.array(commune[sp].astype(np.int32)),
                    "service_point": pa.array(sp.astype(np.int32)),
                    "month": pa.array(rng.integers(1, 13, m).astype(np.int8))}
            answers = _simulate(rng, q, quality[sp], np.ones(m, dtype=np.int64))
            for code, v in answers.items():
                cols[code] = pa.array(v, mask=v <= 0)  # not answered or no opinion: missing
            table = pa.table(cols)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def time_cli(path: Path) -> None:
    from analysis_bench import timed

    for label, extra in (("by province, counters design (strata = service point)",
                          ["--by", "province", "--strata", "service_point"]),
                         ("by province, clusters design (strata = province, clusters = service point)",
                          ["--by", "province", "--strata", "province", "--cluster", "service_point"]),
                         ("by commune (3,300 domains), strata = service point",
                          ["--by", "commune", "--strata", "service_point"])):
        cmd = [sys.executable, "-m", "analysis", "indices", str(path), "--questionnaire", "sipas-2017", *extra,
               "--output", "/tmp/national-indices.csv"]
        wall, cpu, rss, rc = timed(cmd)
        print(f"    | {label} | {wall:.1f} | {cpu:.1f} | {rss:.0f} | {rc} |", flush=True)


def loaded_pages(app) -> list[tuple[str, str, str]]:
    sipas = str(dash.loaded_sipas())
    return [(label, user, url.replace("__sipas__", sipas)) for label, user, url in pages(app)]


def one_page(app, index: int, live: int, warm: int = 0, profile: str = "", save_html: str = "",
             forget: bool = False) -> None:
    """In this (fresh) process: page `index`'s first request, then `live` requests each after two new
    responses, then `warm` requests without new data; prints one table row per request with wall, CPU, RSS
    after it, the process's peak RSS and how the protection was decided (whole tree / again by subtree).
    profile: a file for the cProfile stats of the last live request; save_html: a folder for the last request's
    page (CSRF tokens masked), to compare two trees byte by byte; forget: drop the kept decisions before each
    live request, so that it decides the whole tree (what a live request costs when `decide_again` declines)."""
    import cProfile
    import resource

    from flask import g
    from sqlalchemy import select

    from survey.results import protection

    decided = {"whole": 0, "again": 0}
    whole_tree, again = protection._decide_cells, protection.decide_again

    def counted_whole(*a, **k):
        decided["whole"] += 1
        return whole_tree(*a, **k)

    def counted_again(*a, **k):
        out = again(*a, **k)
        decided["again"] += out is not None
        return out

    protection._decide_cells, protection.decide_again = counted_whole, counted_again

    from survey.org.models import ServicePoint
    from survey.questionnaire_versions.models import QuestionnaireVersion

    label, user, url = loaded_pages(app)[index]
    qvs = dict(db.session.execute(select(QuestionnaireVersion.instrument, QuestionnaireVersion.id)
                                  .order_by(QuestionnaireVersion.id)).all())  # the last version of each
    url = dash._resolve(url)
    points = list(db.session.scalars(select(ServicePoint.id)))
    rng = np.random.default_rng(5 + index)
    client = app.test_client()
    dash._login(client, user)
    for i in range(1 + live + warm):
        for k in ("_login_user", "_flask_babel"):
            g.pop(k, None)
        if 0 < i <= live:
            dash.new_responses(points, qvs, rng)
            if forget:
                protection.clear_kept()
        db.session.remove()
        decided.update(whole=0, again=0)
        profiler = cProfile.Profile() if profile and i == live else None
        t0, c0 = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        resp = client.get(url)
        wall, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{profile}.{index}")
        assert resp.status_code == 200, (url, resp.status_code)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if save_html and i == live + warm:
            import re

            Path(save_html).mkdir(parents=True, exist_ok=True)
            Path(save_html, f"page{index}.html").write_bytes(
                re.sub(rb'(name="csrf_token"[^>]*value=")[^"]*|(csrf-token" content=")[^"]*', rb"\1\2", resp.data))
        kind = "first" if not i else "live" if i <= live else "warm"
        from survey.results import closed_months

        kept = list(protection._kept_decisions.values())
        print(f"    | {label} | {kind} | {wall:,.0f} | {cpu:,.0f} | {dash.rss_mb():,.0f} | "
              f"{peak:,.0f} | {os.getloadavg()[0]:.1f} | {closed_months._held / 2**20:,.0f} | "
              f"{decided['whole']} / {decided['again']} | {len(kept)}, "
              f"{sum(d.nbytes() for d in kept) / 2**20:,.0f} MB |", flush=True)


def fresh_pages(name: str, pg: str, live: int, chosen: list[int], extra: list[str]) -> None:
    """Every page in its own new process (what a restarted worker pays, and its peak memory)."""
    import subprocess

    print(f"  fresh process per page: first request, then {live} live (two new responses before each), "
          f"then warm ones ({extra}):")
    print("    | page | request | wall (ms) | app CPU (ms) | RSS after (MB) | peak RSS (MB) | load "
          "| closed months (MB) | decisions: whole tree / again | kept decisions |")
    print("    |---|---|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    for index in chosen or range(len(pages(None))):
        proc = subprocess.run([sys.executable, __file__, "--reuse", name, "--pg", pg, "--modes", "",
                               "--one-page", str(index), "--live", str(live), *extra], check=False)
        if proc.returncode:
            print(f"    | {pages(None)[index][0]} | exit {proc.returncode} (killed: memory?) | | | | | |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--responses", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--pg", default=os.environ.get("HAILONG_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--keep", metavar="NAME", help="keep the loaded database NAME")
    ap.add_argument("--reuse", metavar="NAME", help="time the database kept earlier with --keep NAME")
    ap.add_argument("--modes", default="live,warm", help="comma-separated subset of cold,live,warm ('' = none)")
    ap.add_argument("--export", metavar="FILE", help="also write a 10 M SIPAS exchange file and time the analysis CLI")
    ap.add_argument("--sipas-channels", default="qr,web,paper",
                    help="SIPAS channels to load (e.g. 'qr' for a shorter load; the others' responses are left out)")
    ap.add_argument("--fresh", action="store_true",
                    help="each page in a new process: first request, then --live requests; CPU and peak RSS")
    ap.add_argument("--live", type=int, default=2, help="live requests after the first one (--fresh)")
    ap.add_argument("--one-page", type=int, default=None, help=argparse.SUPPRESS)  # a --fresh child
    ap.add_argument("--forget-decisions", action="store_true",
                    help="drop the protection's kept decisions before each live request (--fresh): the cost of a "
                         "live request that decides the whole tree")
    ap.add_argument("--per-point", action="store_true",
                    help="build the counters totals from per-service-point running totals (the path before "
                         "survey/results/month_pass.py): the before of a before/after on one tree")
    ap.add_argument("--results-mb", type=int, default=0, metavar="MB",
                    help="HAILONG_RESULTS_CACHE_MB for the app (default: the app's, 384)")
    ap.add_argument("--month-cells-mb", type=int, default=0, metavar="MB",
                    help="HAILONG_MONTH_CELLS_MB for the app (default: the app's, 96): a budget that holds the "
                         "newest whole-country month lets a live request refresh only its changed cells")
    ap.add_argument("--warm", type=int, default=0, help="warm requests after the live ones (--fresh)")
    ap.add_argument("--save-html", default="", metavar="DIR",
                    help="write each page's last response (CSRF tokens masked) to DIR/page<n>.html (--fresh)")
    ap.add_argument("--profile", default="", metavar="FILE",
                    help="cProfile the last live request of each page (--fresh) into FILE.<page number>")
    ap.add_argument("--no-across-measures", action="store_true",
                    help="protection.ACROSS_MEASURES = False: each measure decided on its own (the before of "
                         "0b79314)")
    ap.add_argument("--no-carry-forward", action="store_true",
                    help="protection.CARRY_FORWARD = False: each decision made afresh (the before of 8 Dec 2026)")
    ap.add_argument("--kept-decisions-mb", type=int, default=0, metavar="MB",
                    help="protection.KEPT_DECISIONS_BYTES for the app (default: the app's)")
    ap.add_argument("--pages", default="", help="comma-separated page numbers to time (default: all)")
    ap.add_argument("--month-files", default="off", metavar="DIR",
                    help="HAILONG_MONTH_CELLS_DIR for the app (a server's default is <instance>/month-cells; "
                         "tests switch it off, and so does this benchmark unless a folder is given)")
    args = ap.parse_args()
    if args.per_point:
        from survey.results import totals as results_totals

        results_totals.ONE_PASS = False
    if args.no_across_measures:
        from survey.results import protection

        protection.ACROSS_MEASURES = False
    if args.no_carry_forward:
        from survey.results import protection

        protection.CARRY_FORWARD = False
    if args.kept_decisions_mb:
        from survey.results import protection

        protection.KEPT_DECISIONS_BYTES = args.kept_decisions_mb * 2**20
    name = args.reuse or args.keep or f"hailong_national_{os.getpid()}"
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    url = args.pg.rsplit("/", 1)[0] + "/" + name
    try:
        if not args.reuse:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
        else:  # a database kept by an older tree: the tree revision table (added since) and its first value
            from sqlalchemy.orm import Session

            from survey.org.tree_revision import TreeRevision, raise_revision, read_revision

            engine = make_engine(url)
            TreeRevision.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
            from survey.results.carried import CarriedHidden  # the carried hidden cells (added 8 Dec 2026)

            CarriedHidden.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]
            with Session(engine) as session:
                if read_revision(session) is None:
                    raise_revision(session)
                    session.commit()
            engine.dispose()
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True, "RATELIMIT_ENABLED": False,
                          "WTF_CSRF_ENABLED": True, "HAILONG_MONTH_CELLS_DIR": args.month_files,
                          **({"HAILONG_RESULTS_CACHE_MB": args.results_mb} if args.results_mb else {}),
                          **({"HAILONG_MONTH_CELLS_MB": args.month_cells_mb} if args.month_cells_mb else {})})
        if args.one_page is not None:
            with app.app_context():
                one_page(app, args.one_page, args.live, args.warm, args.profile, args.save_html,
                         args.forget_decisions)
            return
        print(f"== postgresql national: {'database kept earlier' if args.reuse else f'{args.responses:,} responses'} "
              f"({url.split('@')[-1]}); "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        with app.app_context():
            if not args.reuse:
                load(db.session, args.responses,
                     sipas_channels=tuple(c for c in args.sipas_channels.split(",") if c))
                with db.engine.connect() as conn:
                    conn.execute(text("ANALYZE"))
                    conn.commit()
            print("  | table | rows | table + TOAST (MB) | indexes (MB) |")
            for table, rows, mb, idx in table_sizes(db.session):
                print(f"  | {table} | {rows:,} | {mb:,.0f} | {idx:,.0f} |", flush=True)
            db.session.remove()
            for mode in [m for m in args.modes.split(",") if m]:
                print(f"  {mode} ({args.repeat} requests each; load average {os.getloadavg()[0]:.1f}):")
                print("    | page | wall p50 (ms) | wall p95 (ms) | app CPU p50 (ms) | app CPU p95 (ms) |")
                print("    |---|---|---|---|---|")
                chosen = [int(i) for i in args.pages.split(",") if i]
                listed = loaded_pages(app)
                dash.time_pages(app, args.repeat, mode,
                                page_list=[listed[i] for i in chosen] if chosen else listed)
                print(f"  RSS after {mode}: {dash.rss_mb():.0f} MB", flush=True)
            db.session.remove()
            db.engine.dispose()
        if args.fresh:
            fresh_pages(name, args.pg, args.live, [int(i) for i in args.pages.split(",") if i],
                        [*(["--per-point"] if args.per_point else []),
                         *(["--no-across-measures"] if args.no_across_measures else []),
                         *(["--no-carry-forward"] if args.no_carry_forward else []),
                         "--kept-decisions-mb", str(args.kept_decisions_mb),
                         "--month-files", args.month_files,
                         "--warm", str(args.warm), "--results-mb", str(args.results_mb),
                         "--month-cells-mb", str(args.month_cells_mb), "--profile", args.profile,
                         "--save-html", args.save_html, *(["--forget-decisions"] if args.forget_decisions else [])])
        if args.export:
            path = Path(args.export)
            if not path.exists():
                t0 = time.perf_counter()
                write_export(path, args.responses)
                print(f"  export written in {time.perf_counter() - t0:.0f} s ({path.stat().st_size / 2**20:.0f} MB)")
            print(f"  analysis CLI on {args.responses:,} respondents (load average {os.getloadavg()[0]:.1f}):")
            print("    | command | wall (s) | CPU (s) | peak RSS (MB) | exit |")
            print("    |---|---:|---:|---:|---:|")
            time_cli(path)
    finally:
        if not (args.keep or args.reuse):
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
