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

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

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
                        hide_first: Callable[[tuple[Any, ...], int], bool] | None = None) -> dict[tuple[Any, ...], str]:
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
    status = ["primary" if primary.get(c, False) else "" for c in cells]
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
