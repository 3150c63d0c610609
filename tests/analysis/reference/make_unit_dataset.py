"""Generate `unit_data.csv`, the seeded data set of the unit-level (service points as strata) references.

    .venv/bin/python tests/analysis/reference/make_unit_dataset.py

Design: every service point is a stratum (a census of counters), respondents are the sampled units
(R `svydesign(ids=~1, strata=~service_point, weights=~weight)`).  24 service points, each belonging to
one of 4 agencies (as in the web app), 10–60 respondents each, one point with a single respondent (to
exercise the lonely-stratum rule), two months and three channels crossing the points, unequal
weights, ~5% missing answers on 6 items.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def main() -> None:
    rng = np.random.default_rng(20263)
    rows = []
    for sp in range(24):
        agency = f"A{sp % 4 + 1}"
        m = 1 if sp == 23 else int(rng.integers(10, 61))
        effect = rng.normal(0, 0.4)
        for _ in range(m):
            rows.append((f"SP{sp:02d}", agency, effect))
    df = pd.DataFrame(rows, columns=["service_point", "agency", "effect"])
    n = len(df)
    df.insert(0, "response_id", [f"u{i:04d}" for i in range(n)])
    df["month"] = rng.choice(["2026-01", "2026-02"], n)
    df["channel"] = rng.choice(["kiosk", "qr", "web"], n, p=[0.5, 0.3, 0.2])
    df["weight"] = np.round(rng.lognormal(0, 0.4, n), 4)
    later = (df["month"] == "2026-02").to_numpy()
    for i in range(1, 7):
        latent = 3.1 + 0.15 * i + 0.3 * later + df["effect"].to_numpy() + rng.normal(0, 1.1, n)
        v = np.clip(np.rint(latent), 1, 5).astype(float)
        v[rng.random(n) < 0.05] = np.nan
        df[f"Q{i}"] = pd.array(v, dtype="Int64")
    df = df.drop(columns="effect")
    df.to_csv(HERE / "unit_data.csv", index=False)
    print(f"{n} respondents, {df.service_point.nunique()} service points")


if __name__ == "__main__":
    main()
