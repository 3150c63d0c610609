"""The sentences every method note shares: which design the intervals assume, and how ranks were drawn.

One wording for the agency pages, the Home Affairs comparison, its charts and the period report, so a
figure and its explanation cannot disagree (docs/methodology-design.md is the long version).
"""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext as _

from survey.results.design import current_design


def design_sentence(design: str | None = None) -> str:
    """What is sampled, hence where the uncertainty of every interval comes from."""
    if current_design(design or None) == "clusters":
        return _("Sampling design: service points are treated as a random sample of counters (clusters), "
                 "the unit one level below the city as strata; degrees of freedom = service points − strata.")
    return _("Sampling design: every service point is surveyed, so service points are strata and the citizens "
             "who answered at each are the sampled units; degrees of freedom = respondents − service points.")


def rank_sentence(method: str, b: int, seed: int) -> str:
    """How the rank intervals were obtained (analysis.ranks.rank_replicates names the method)."""
    if method.startswith("normal"):
        return _("%(b)s draws (seed %(seed)s) of every unit's index from its interval on the logit scale, "
                 "units independent", b=b, seed=seed)
    return _("%(b)s Rao–Wu bootstrap replicates of service points (seed %(seed)s)", b=b, seed=seed)


def init_app(app: Flask) -> None:
    app.add_template_global(design_sentence)
    app.add_template_global(rank_sentence)
