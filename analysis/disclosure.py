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

from collections.abc import Sequence


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
