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
