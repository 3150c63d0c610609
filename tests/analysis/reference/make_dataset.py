"""Generate the seeded reference dataset `core_data.csv` (run once; the CSV is checked in).

    .venv/bin/python tests/analysis/reference/make_dataset.py

9 strata (districts), 200 clusters (service points; district D9 has a single one, to exercise the
lonely-stratum rule), 5 agencies crossing clusters, unequal weights, ~3% missing answers on 6 items.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def main() -> None:
    rng = np.random.default_rng(20260)
    sizes = [25, 25, 25, 25, 25, 25, 25, 24, 1]  # clusters per stratum: 200 in all, D9 lonely
    rows = []
    for h, k in enumerate(sizes, start=1):
        for c in range(k):
            m = int(rng.integers(5, 26))
            effect = rng.normal(0, 0.5)
            base_agency = rng.integers(0, 5)
            for _ in range(m):
                agency = base_agency if rng.random() < 0.7 else rng.integers(0, 5)
                rows.append((f"D{h}", f"SP{h}{c:02d}", f"A{agency + 1}", effect))
    df = pd.DataFrame(rows, columns=["district", "service_point", "agency", "effect"])
    n = len(df)
    df.insert(0, "response_id", [f"r{i:05d}" for i in range(n)])
    df["channel"] = rng.choice(["kiosk", "qr", "web"], n, p=[0.5, 0.3, 0.2])
    df["weight"] = np.round(rng.lognormal(0, 0.5, n), 4)
    for i in range(1, 7):
        latent = 3.2 + 0.15 * i + df["effect"].to_numpy() + rng.normal(0, 1.1, n)
        v = np.clip(np.rint(latent), 1, 5).astype(float)
        v[rng.random(n) < 0.03] = np.nan
        df[f"Q{i}"] = pd.array(v, dtype="Int64")
    df = df.drop(columns="effect")
    df.to_csv(HERE / "core_data.csv", index=False)
    print(f"{n} respondents, {df.service_point.nunique()} clusters")


if __name__ == "__main__":
    main()
