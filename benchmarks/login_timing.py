"""Login answer time for a known user (wrong password), an unknown user and an inactive account
(issue 11 §4): python benchmarks/login_timing.py [--rounds 40]

Uses the production password hash (Werkzeug scrypt, n = 2**15) on a temporary SQLite database, with
throttling off so every attempt reaches the password check.  The figures should be equal within noise:
an unknown user name costs one dummy hash check like a real one.  Figures go to benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.pop("HAILONG_PASSWORD_HASH", None)  # the real cost, not the test suite's cheap one

from survey import create_app
from survey.auth.models import User
from survey.auth.passwords import hash_password
from survey.database import make_engine
from survey.extensions import db
from survey.migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite"
        upgrade(make_engine(url))
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "b" * 40, "RATELIMIT_ENABLED": False,
                          "WTF_CSRF_ENABLED": False})
        with app.app_context():
            db.session.add_all([User(username="known", password_hash=hash_password("right password 1"),
                                     role="admin", active=True),
                                User(username="inactive", password_hash=hash_password("right password 1"),
                                     role="admin", active=False)])
            db.session.commit()
        client = app.test_client()
        times: dict[str, list[float]] = {"known user, wrong password": [], "unknown user": [],
                                         "inactive user, right password": []}
        logins = {"known user, wrong password": ("known", "wrong"), "unknown user": ("nobody", "wrong"),
                  "inactive user, right password": ("inactive", "right password 1")}
        messages = set()
        for _ in range(args.rounds):
            for label, (username, password) in logins.items():
                start = time.perf_counter()
                resp = client.post("/auth/login", data={"username": username, "password": password})
                times[label].append((time.perf_counter() - start) * 1000)
                messages.add(re.search(r'class="flash[^"]*"[^>]*>(.*?)<', resp.get_data(as_text=True)).group(1))
    print(f"{'attempt':32} {'median ms':>10} {'p10':>8} {'p90':>8}")
    for label, values in times.items():
        q = statistics.quantiles(values, n=10)
        print(f"{label:32} {statistics.median(values):10.1f} {q[0]:8.1f} {q[-1]:8.1f}")
    print(f"distinct messages: {len(messages)}")


if __name__ == "__main__":
    main()
