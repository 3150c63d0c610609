"""The Design object: one checked design whatever the source, R's degf, the lonely-cluster rule."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis import Design
from tests.analysis.test_reference import DESIGN, reference_spec

REF = Path(__file__).parent / "reference"


def test_three_sources_give_the_same_indices():
    spec = reference_spec()
    data = pd.read_csv(REF / "core_data.csv")
    from_rows = Design.from_responses(data, spec, domains=("agency",), **DESIGN)
    from_file = Design.from_file(REF / "core_data.csv", spec, domains=("agency",), **DESIGN)
    from_sql = Design.from_totals(from_rows.totals.to_frame(), spec, domains=("agency",))
    tables = [d.indices(("agency",), "korn-graubard") for d in (from_rows, from_file, from_sql)]
    pd.testing.assert_frame_equal(tables[0], tables[2])  # same totals: bit-identical
    pd.testing.assert_frame_equal(tables[0], tables[1], rtol=1e-12)  # streamed in batches: summed in order
    assert from_rows.degf == 191  # R: degf(svydesign(ids=~service_point, strata=~district, …))
    assert set(tables[0].domain) == {"A1", "A2", "A3", "A4", "A5"}


def test_only_the_documented_lonely_rule_is_accepted():
    spec = reference_spec()
    data = pd.read_csv(REF / "core_data.csv").head(50)
    with pytest.raises(ValueError, match="lonely-cluster rule 'remove'"):
        Design.from_responses(data, spec, lonely="remove")
