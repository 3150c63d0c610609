"""Disclosure by differencing: may a total be published beside rows whose figures are suppressed?

A row with fewer than n_min responses is suppressed.  A total over ALL rows published beside the shown rows'
estimates and n lets a reader recover the suppressed rows' combined figure:

    hidden ≈ (total · n_total − Σ_shown estimate_i · n_i) / (n_total − Σ_shown n_i)

(exactly for a single-item share without weights; to rounding for composite indices).  That combined figure
is no worse than any published one when it pools at least n_min responses from at least two suppressed rows;
otherwise it is a suppressed figure in disguise (with ONE suppressed row it is that row's figure).

The rule (docs/methodology-design.md, "Totals beside suppressed rows"): a total over the rows may include the
suppressed rows only when no suppressed row has a response, or the suppressed rows together hold at least n_min
responses AND at least two of them have responses.  Otherwise the caller either computes the total over the
shown rows only and says so, or suppresses more rows (`secondary_suppression`).  The total must be over exactly
these rows (the callers' totals are: the listed units; the periods of the headline's range).  The hidden
responses are counted as the suppressed rows' own n, not as total n minus the shown rows' n: n of a composite is
its least answered item's, so those differ by a few even when nothing is hidden.  Pure: counts in, booleans out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

K = TypeVar("K")


def remainder_safe(n: Sequence[int], suppressed: Sequence[bool], n_min: int) -> bool:
    """True when a total over all these rows may be published beside them.

    `n[i]` is row i's published n, `suppressed[i]` whether its figure is hidden; see the module docstring.
    """
    if len(n) != len(suppressed):
        raise ValueError("n and suppressed differ in length")
    hidden = [int(k) for k, s in zip(n, suppressed, strict=True) if s and int(k) > 0]
    return not hidden or (sum(hidden) >= n_min and len(hidden) >= 2)


def secondary_suppression(n: Sequence[int], suppressed: Sequence[bool], n_min: int) -> list[bool]:
    """The rows to hide so that the total over all rows may stay: `suppressed` plus, when the remainder is not
    safe, the shown rows with the fewest responses (ties: the later row) until it is — every row at worst.

    Used where the total matters more than one row (an agency's headline beside its trend by period)."""
    out = [bool(s) for s in suppressed]
    if remainder_safe(n, out, n_min):
        return out
    order = sorted((i for i, s in enumerate(out) if not s), key=lambda i: (int(n[i]), -i))
    for i in order:
        out[i] = True
        if remainder_safe(n, out, n_min):
            break
    return out


def tree_suppression(parent: Mapping[K, K | None], n: Mapping[K, int], primary: Mapping[K, bool], n_min: int,
                     rank: Callable[[K], Any] = lambda k: 0) -> dict[K, str]:
    """Secondary suppression over a hierarchy whose every node is published on some page (the city, its units,
    agencies, service points): node → "" (shown), "primary" (its own n < n_min) or "secondary" (hidden to
    protect a small group).

    WHY: a page shows a parent (a district's row, the whole city) and another page its children (the
    drill-down, the agency list); the parent minus the shown children is the hidden children's combined figure.
    So under every shown parent the hidden children must pass `remainder_safe`, whichever page shows what.
    Top-down, each shown parent hides its shown children with the fewest responses (ties: lower `rank`, then
    the later key) until they do; a hidden node hides its whole subtree (else its children, shown elsewhere,
    would add up to it).  A parent whose children cannot be made safe (every child with responses already
    hidden) is hidden itself, and its own parent is checked again.  Deterministic, so every page that shows
    the parent or any child makes the same choice.  `n` is each node's published n (every node must have
    one); a parent absent from `n` is treated as unpublished (no constraint under it).
    """
    kids: dict[K, list[K]] = {}
    for k in n:
        p = parent.get(k)
        if p is not None:
            kids.setdefault(p, []).append(k)
    status = {k: "primary" if primary.get(k, False) else "" for k in n}

    def hide(k: K) -> None:
        stack = [k]
        while stack:
            node = stack.pop()
            if not status[node]:
                status[node] = "secondary"
            stack.extend(kids.get(node, ()))

    for k in list(n):  # a hidden node hides its subtree (its children cannot have more responses than it)
        if status[k]:
            hide(k)
    roots = [k for k in n if parent.get(k) not in n]
    order: list[K] = []
    queue = list(roots)
    while queue:  # breadth first: parents before their children
        node = queue.pop(0)
        order.append(node)
        queue.extend(kids.get(node, ()))
    changed = True
    while changed:
        changed = False
        for p in order:
            below = kids.get(p, [])
            if status[p] or not below:
                continue
            while not remainder_safe([n[c] for c in below], [bool(status[c]) for c in below], n_min):
                shown = [c for c in below if not status[c] and int(n[c]) > 0]
                if not shown:
                    hide(p)
                    break
                order_key = {c: i for i, c in enumerate(below)}
                hide(min(shown, key=lambda c: (int(n[c]), rank(c), -order_key[c])))
                changed = True
            if status[p]:
                changed = True
    return status


def product_suppression(parents: Sequence[Mapping[Any, Any]], n: Mapping[tuple[Any, ...], int],
                        primary: Mapping[tuple[Any, ...], bool], n_min: int,
                        rank: Callable[[tuple[Any, ...]], Any] = lambda c: 0,
                        closed: Sequence[bool] | None = None,
                        hide_first: Callable[[tuple[Any, ...], int], bool] | None = None,
                        forced: Collection[tuple[Any, ...]] = ()) -> dict[tuple[Any, ...], str]:
    """`tree_suppression` over a product of hierarchies (organisation × time × channel): cell → "" (shown),
    "primary" or "secondary".

    WHY: a figure is published for a node of each hierarchy at once — an agency over 2022-Q4 through kiosks.
    A reader subtracts along any of them: the agency over October–December minus October and November is
    December; the agency over every channel minus kiosks is the other channels.  So under every shown cell,
    along EVERY dimension, the hidden children must pass `remainder_safe`.  A hidden cell must not come back as
    the sum of its children either: along a `closed` dimension (the organisation, as `tree_suppression` does)
    it hides every cell below it; along the others its hidden children must pool at least n_min responses (or
    be all of them), so that it minus its shown children is again a group of at least n_min.

    A cell is a tuple with one node per dimension; `parents[d]` maps a node of dimension d to its parent (None
    or absent: a root).  A cell's parent along d is the cell with its d-th node replaced by that parent; only
    cells in `n` are published (a parent absent from `n` puts no constraint on its children).  Hiding is
    monotone; a work list of parents whose hidden children changed is re-checked, shallowest cell first (the
    sum of the depths, then the order of `n`), until nothing changes — so the result depends only on the
    inputs, never on which page asked.  At each unsafe parent the shown child with the fewest responses (then
    the lower `rank`, then the later cell in `n`) is hidden, or a shown parent itself when no shown child has
    responses.  With one closed dimension this is `tree_suppression`'s rule.  Not exact in every case: a
    group of at least n_min that a reader can form along one dimension can be subtracted along another; the
    randomized check in tests/analysis/test_disclosure_product.py measures how often a small cell comes out.

    `hide_first(cell, d)`: at an unsafe parent along d for which it is True, the parent itself is hidden instead
    of a child, and a hidden such parent puts no condition on its hidden children along d — so that a figure over
    every complete period ("so far") gives way before the quarters it is made of.  Weaker: the parent, formed
    along another dimension, minus its shown children may then be a small group; the randomized check measures
    it with and without.

    `forced`: cells hidden from the start ("secondary" unless primary; with their subtrees along the closed
    dimensions) — an earlier decision carried forward, so that the decision only adds to it (a sibling shown
    yesterday is not hidden today in place of one hidden yesterday: survey/results/carried.py).  Hiding more is
    monotone, and the loop then makes every parent safe as from any other state.
    """
    import heapq

    dims = len(parents)
    shut = [True] * dims if closed is None else [bool(x) for x in closed]
    cells = list(n)
    index = {c: i for i, c in enumerate(cells)}
    counts = [int(n[c]) for c in cells]
    depth_of: list[dict[Any, int]] = []
    for d in range(dims):
        memo: dict[Any, int] = {}

        def depth(node: Any, d: int = d, memo: dict[Any, int] = memo) -> int:
            if node not in memo:
                p = parents[d].get(node)
                memo[node] = 0 if p is None else depth(p) + 1
            return memo[node]
        depth_of.append({c[d]: depth(c[d]) for c in cells})
    par = [[-1] * len(cells) for _ in range(dims)]
    kids: list[list[list[int]]] = [[[] for _ in cells] for _ in range(dims)]
    for i, c in enumerate(cells):
        for d in range(dims):
            p = parents[d].get(c[d])
            if p is not None:
                j = index.get((*c[:d], p, *c[d + 1:]))
                if j is not None:
                    par[d][i] = j
                    kids[d][j].append(i)
    level = [sum(depth_of[d][c[d]] for d in range(dims)) for c in cells]
    first = [[hide_first is not None and bool(kids[d][i]) and hide_first(c, d) for i, c in enumerate(cells)]
             for d in range(dims)]
    carried = set(forced)
    status = ["primary" if primary.get(c, False) else "secondary" if c in carried and counts[i] > 0 else ""
              for i, c in enumerate(cells)]
    work: list[tuple[int, int, int]] = []
    done = [False] * len(cells)

    def hide(i: int) -> None:
        """Hide cell i (and, along closed dimensions, every cell below it); queue what must be checked again:
        the parents of the cells newly hidden, and their own children along the open dimensions."""
        stack = [i]
        while stack:
            k = stack.pop()
            if done[k]:
                continue
            done[k] = True
            if not status[k]:
                status[k] = "secondary"
            for d in range(dims):
                if par[d][k] >= 0:
                    heapq.heappush(work, (level[par[d][k]], par[d][k], d))
                if shut[d]:
                    stack.extend(kids[d][k])
                elif kids[d][k]:
                    heapq.heappush(work, (level[k], k, d))

    def safe(p: int, below: list[int], d: int) -> bool:
        if not status[p]:
            return remainder_safe([counts[c] for c in below], [bool(status[c]) for c in below], n_min)
        if first[d][p]:
            return True
        pooled = sum(counts[c] for c in below if status[c])
        return pooled >= n_min or all(status[c] or counts[c] == 0 for c in below)

    for i in range(len(cells)):
        if status[i]:
            hide(i)
    while work:
        _lv, p, d = heapq.heappop(work)
        if status[p] and shut[d]:
            continue
        below = kids[d][p]
        while not safe(p, below, d):
            if first[d][p]:
                hide(p)
                break
            shown = [c for c in below if not status[c] and counts[c] > 0]
            if not shown:
                hide(p)
                break
            hide(min(shown, key=lambda c: (counts[c], rank(cells[c]), -c)))
    return {c: status[i] for i, c in enumerate(cells)}



def product_suppression_grid(parents: Sequence[npt.ArrayLike], n: npt.ArrayLike, n_min: int, *,
                             rank: npt.ArrayLike | None = None, closed: Sequence[bool] | None = None,
                             hide_first: Sequence[npt.ArrayLike | None] | None = None,
                             forced: npt.ArrayLike | None = None) -> npt.NDArray[np.int8]:
    """`product_suppression` on a dense grid of counts: the same decision in a small fraction of the time
    (a national tree: 1.5 M cells, 15-20 s → well under a second), as an int8 array of `n`'s shape: 0 shown (or
    no responses), 1 primary, 2 secondary.

    `n[i0, i1, …]`: the n of the cell whose node along dimension d is i_d; a cell with n > 0 is published (a key
    of `product_suppression`'s `n`, in C order), one with n = 0 is not; primary: 0 < n < n_min.
    `parents[d][i]`: the parent of node i of dimension d (-1: a root).  `rank`: an array broadcastable to `n`
    (default 0); `hide_first[d]`: None or a boolean array broadcastable to `n`, True where `hide_first(cell, d)`;
    `forced`: None or a boolean array of `n`'s shape, True at the cells of `product_suppression`'s `forced`.

    WHY the same decision, step for step.  `product_suppression`'s work list acts only at an entry (p, d) that is
    unsafe when taken (`safe` false, and not a hidden p along a closed d); any other entry is passed over.  Every
    entry that is unsafe is in the work list: an entry becomes unsafe only when a cell is hidden — a child of p
    along d, or p itself along an open d — and `hide` queues exactly those entries; an entry, once dealt with,
    is safe.  So the entry taken that acts is always the smallest unsafe one (depth sum, cell in C order, d), and
    the run is "while an entry is unsafe, deal with the smallest" whatever else the list holds.  Here the first
    loop of `product_suppression` (every primary cell hidden with its subtree along the closed dimensions; it
    acts on no entry) is done with arrays, the unsafe entries of that state are found with sums over each
    dimension's children, and only they start the work list, whose loop is `product_suppression`'s on flat cell
    numbers.  tests/analysis/test_disclosure_grid.py compares the two on random tables.
    """
    import heapq

    counts = np.ascontiguousarray(n, dtype=np.int64)
    shape = counts.shape
    dims = counts.ndim
    shut = [True] * dims if closed is None else [bool(x) for x in closed]
    par_node = [np.asarray(p, dtype=np.int64) for p in parents]
    present = counts > 0
    prim = present & (counts < n_min)
    depth: list[npt.NDArray[np.int64]] = []
    for d in range(dims):
        dep = np.zeros(shape[d], dtype=np.int64)
        has = par_node[d] >= 0
        for _ in range(shape[d]):  # a node is at most as deep as its dimension has nodes
            new = np.where(has, dep[np.maximum(par_node[d], 0)] + 1, 0)
            if np.array_equal(new, dep):
                break
            dep = new
        depth.append(dep)
    # each dimension's children grouped by parent: kids[d][starts[d][g]:starts[d][g+1]] are those of groups[d][g]
    kid_sorted = [np.flatnonzero(par_node[d] >= 0)[np.argsort(par_node[d][par_node[d] >= 0], kind="stable")]
                  for d in range(dims)]
    groups = [np.unique(par_node[d][k]) for d, k in enumerate(kid_sorted)]
    starts = [np.searchsorted(par_node[d][k], groups[d]) for d, k in enumerate(kid_sorted)]

    hidden = prim.copy() if forced is None else prim | (present & np.asarray(forced, dtype=bool))
    changed = True
    while changed:  # every cell below a hidden one along a closed dimension is hidden (parents before children)
        changed = False
        for d in range(dims):
            if not shut[d]:
                continue
            h, here = np.moveaxis(hidden, d, 0), np.moveaxis(present, d, 0)
            for k in range(1, int(depth[d].max(initial=0)) + 1):
                nodes = np.flatnonzero(depth[d] == k)
                grown = h[nodes] | (h[par_node[d][nodes]] & here[nodes])
                if (grown != h[nodes]).any():
                    h[nodes] = grown
                    changed = True
    code = np.where(prim, 1, np.where(hidden, 2, 0)).astype(np.int8)

    def below_sum(values: npt.NDArray[Any], d: int) -> npt.NDArray[np.int64]:
        """Each cell's sum of `values` over its children along d."""
        out = np.zeros(shape, dtype=np.int64)
        if len(kid_sorted[d]):
            np.moveaxis(out, d, 0)[groups[d]] = np.add.reduceat(
                np.moveaxis(values, d, 0)[kid_sorted[d]].astype(np.int64), starts[d], axis=0)
        return out

    first: list[npt.NDArray[np.bool_]] = []
    work: list[tuple[int, int, int]] = []
    level = np.zeros(shape, dtype=np.int64)
    for d in range(dims):
        level += depth[d].reshape([-1 if e == d else 1 for e in range(dims)])
    level_flat = level.ravel()
    hidden_n = np.where(hidden, counts, 0)
    for d in range(dims):
        h_sum, h_cnt = below_sum(hidden_n, d), below_sum(hidden, d)
        s_cnt = below_sum(present & ~hidden, d)
        with_kids = present & ((h_cnt > 0) | (s_cnt > 0))
        fd = with_kids & (False if hide_first is None or hide_first[d] is None
                          else np.broadcast_to(np.asarray(hide_first[d], dtype=bool), shape))
        first.append(np.ascontiguousarray(fd).ravel())
        unsafe = ~hidden & (h_cnt > 0) & ((h_sum < n_min) | (h_cnt < 2))  # remainder_safe fails
        if not shut[d]:  # a hidden cell whose hidden children pool fewer than n_min while some are shown
            unsafe |= hidden & ~fd & (h_sum < n_min) & (s_cnt > 0)
        cells = np.flatnonzero((unsafe & with_kids).ravel())
        work.extend(zip(level_flat[cells].tolist(), cells.tolist(), [d] * len(cells), strict=True))
    if not work:
        return code
    heapq.heapify(work)
    # product_suppression's loop, on flat cell numbers (C order: the order of its `n`)
    cnt = counts.ravel().data  # a memoryview: Python ints by index, without a list of every cell
    status = bytearray(code.ravel().tobytes())
    done = bytearray(hidden.ravel().tobytes())
    rank_of = np.ascontiguousarray(np.broadcast_to(np.asarray(0 if rank is None else rank, dtype=np.int64),
                                                   shape)).ravel().data
    strides = [int(np.prod(shape[d + 1:], dtype=np.int64)) for d in range(dims)]
    # along d, node → the flat offsets of its children's cells, and its parent's (None: a root)
    kid_off: list[list[list[int]]] = [[[] for _ in range(shape[d])] for d in range(dims)]
    for d in range(dims):
        for child, p in zip(kid_sorted[d].tolist(), par_node[d][kid_sorted[d]].tolist(), strict=True):
            kid_off[d][p].append((child - p) * strides[d])
    up_off = [[None if p < 0 else (p - i) * strides[d] for i, p in enumerate(par_node[d].tolist())]
              for d in range(dims)]
    span = list(zip(range(dims), strides, shape, strict=True))
    level_at = level_flat.data  # the depth sum of a flat cell

    def kids(i: int, d: int) -> list[int]:
        return [k for o in kid_off[d][(i // strides[d]) % shape[d]] if cnt[k := i + o] > 0]

    def hide(i: int) -> None:
        stack = [i]
        while stack:
            k = stack.pop()
            if done[k]:
                continue
            done[k] = 1
            if not status[k]:
                status[k] = 2
            for d, s, m in span:
                at = (k // s) % m
                o = up_off[d][at]
                if o is not None and cnt[k + o] > 0:
                    heapq.heappush(work, (level_at[k + o], k + o, d))
                if shut[d]:
                    stack.extend(kk for oo in kid_off[d][at] if cnt[kk := k + oo] > 0)
                elif any(cnt[k + oo] > 0 for oo in kid_off[d][at]):
                    heapq.heappush(work, (level_at[k], k, d))

    def safe(p: int, below: list[int], d: int) -> bool:
        if not status[p]:
            hid = [cnt[c] for c in below if status[c]]  # every child has responses
            return not hid or (sum(hid) >= n_min and len(hid) >= 2)
        if first[d][p]:
            return True
        return sum(cnt[c] for c in below if status[c]) >= n_min or all(status[c] for c in below)

    while work:
        _lv, p, d = heapq.heappop(work)
        if status[p] and shut[d]:
            continue
        below = kids(p, d)
        while not safe(p, below, d):
            if first[d][p]:
                hide(p)
                break
            shown = [c for c in below if not status[c]]
            if not shown:
                hide(p)
                break
            hide(min(shown, key=lambda c: (cnt[c], rank_of[c], -c)))
    return np.frombuffer(bytes(status), dtype=np.int8).reshape(shape).copy()
