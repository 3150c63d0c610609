"""deploy/gunicorn.conf.py preloads the app in the master (issue 14 §4, memory): the master must hold no
database connection when it forks — one would be shared by every worker; its own warm-up before forking
(survey/results/prewarm.py:before_fork) closes what it opened — and each worker still runs its own start-up
warm-up without waiting for a request."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def _opens(pid: int, path: Path) -> bool:
    """Whether process `pid` holds `path` open (the SQLite database: a pooled connection)."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) == str(path):
                return True
        except OSError:
            continue
    return False


def test_preloaded_master_never_opens_the_database_and_every_worker_warms_up(tmp_path, sqlite_template):
    db_file = tmp_path / "hailong.sqlite"
    shutil.copy(sqlite_template, db_file)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_file}", "SECRET_KEY": "k" * 64, "WEB_CONCURRENCY": "2",
           "HAILONG_BIND": f"127.0.0.1:{_free_port()}", "HAILONG_INSTANCE": str(tmp_path)}
    env.pop("HAILONG_PRELOAD", None)
    env.pop("HAILONG_PREWARM", None)
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    proc = subprocess.Popen([gunicorn, "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "wsgi:app"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        workers: list[int] = []
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            workers = _children(proc.pid)
            if len(workers) == 2 and all(_opens(w, db_file) for w in workers):
                break  # both warmed up (their pooled connection is open) and no request was sent
            time.sleep(0.3)
        else:
            raise AssertionError(f"the workers {workers} did not open the database on their own (warm-up)")
        assert not _opens(proc.pid, db_file), "the gunicorn master kept a database connection open"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=40)
        log = proc.stderr.read() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    assert "warmed up before forking" in log, log[-2000:]  # the master's own warm-up (when_ready) ran
