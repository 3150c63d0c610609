"""Where each service point sits: its agency, the units above it, and its design stratum.

The design (methodology §3) has clusters = service points and strata = the unit one level below the root
(the district in city → district → commune; the commune in a two-level city → commune tree).  An agency
attached to the root itself (a city department, sở) lies in no district: those service points form one
stratum of their own, labelled with the root's code.
"""

from __future__ import annotations

from dataclasses import dataclass
from threading import Lock
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey.org.models import Agency, Level, ServicePoint, Unit
from survey.org.tree_revision import read_revision


@dataclass(frozen=True)
class Placement:
    service_point_id: int
    service_point: str
    agency_id: int
    agency: str
    stratum: str
    levels: dict[str, str]  # level code → unit code of the ancestor at that level (agency's own unit incl.)


_kept: dict[str, tuple[int, dict[int, Placement], list[str]]] = {}  # database URL → (tree revision, …)
_kept_lock = Lock()


def placements(session: Session) -> dict[int, Placement]:
    """Every service point's placement, kept per process under the tree revision (survey/org/
    tree_revision.py): a national tree's 10,011 rows are read and resolved once per organisation edit, not
    once per request.  The dict is shared: callers must not modify it."""
    return _tree(session)[0]


def _tree(session: Session) -> tuple[dict[int, Placement], list[str]]:
    from survey.results.cache import per_request

    return per_request(("tree", str(session.get_bind().engine.url)), lambda: _read_tree(session))


def _read_tree(session: Session) -> tuple[dict[int, Placement], list[str]]:
    from survey.results.cache import enabled

    url = str(session.get_bind().engine.url)
    revision = tree_revision(session) if enabled() else None  # BEFORE the tree (module docstring there)
    if revision is not None:
        with _kept_lock:
            hit = _kept.get(url)
        if hit is not None and hit[0] == revision:
            return hit[1], hit[2]
    out = (_placements(session), _level_codes(session))
    if revision is not None:
        with _kept_lock:
            _kept[url] = (revision, *out)
    return out


def tree_revision(session: Session) -> int | None:
    """The tree's revision, read once per request (None: unknown; survey/org/tree_revision.py).  The
    results cache keys on it too (cache.data_version): a moved agency counts in its new district at once."""
    from survey.results.cache import per_request

    return per_request(("tree-revision", str(session.get_bind().engine.url)), lambda: read_revision(session))


def clear() -> None:
    """Forget the kept trees (tests that rebuild a database under the same URL without an edit)."""
    from survey.org import tree as org_tree

    with _kept_lock:
        _kept.clear()
    org_tree.clear()


def _placements(session: Session) -> dict[int, Placement]:
    units = {uid: (code, level, parent) for uid, code, level, parent in
             session.execute(select(Unit.id, Unit.code, Unit.level_code, Unit.parent_id))}

    def chain(uid: int) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        seen: set[int] = set()
        node: int | None = uid
        while node is not None and node not in seen:
            seen.add(node)
            code, level, parent = units[node]
            out.append((level, code))
            node = parent
        return list(reversed(out))  # root first

    # per unit once (a national tree has 10,000 service points under 3,300 units); the dict is shared by
    # the unit's service points and never modified
    chains: dict[int, tuple[str, dict[str, str]]] = {}
    out: dict[int, Placement] = {}
    rows = session.execute(
        select(ServicePoint.id, ServicePoint.code, Agency.id, Agency.code, Agency.unit_id)
        .join(Agency, Agency.id == ServicePoint.agency_id))
    for sp_id, sp_code, ag_id, ag_code, unit_id in rows:
        hit = chains.get(unit_id)
        if hit is None:
            ch = chain(unit_id)
            hit = chains[unit_id] = (ch[1][1] if len(ch) > 1 else ch[0][1], dict(ch))
        out[sp_id] = Placement(sp_id, sp_code, ag_id, ag_code, hit[0], hit[1])
    return out


def level_codes(session: Session) -> list[str]:
    """Tree level codes, root first (valid `domain` names besides the fixed ones); kept with the placements."""
    return _tree(session)[1]


def _level_codes(session: Session) -> list[str]:
    return list(session.scalars(select(Level.code).order_by(Level.rank)))


def placement_frame(places: dict[int, Placement], sp_ids: Any, columns: list[str]) -> pd.DataFrame:
    """Per service point id: the requested placement columns (stratum, cluster, agency, level codes…)."""
    ids = list(sp_ids)
    data: dict[str, list[Any]] = {}
    for col in columns:
        if col == "cluster" or col == "service_point":
            data[col] = [places[i].service_point for i in ids]
        elif col == "stratum":
            data[col] = [places[i].stratum for i in ids]
        elif col == "agency":
            data[col] = [places[i].agency for i in ids]
        else:  # a tree level: "" where the agency has no ancestor at that level
            data[col] = [places[i].levels.get(col, "") for i in ids]
    return pd.DataFrame(data, index=pd.Index(ids, name="service_point_id"))
