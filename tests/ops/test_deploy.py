"""deploy/: the gunicorn settings, the systemd units and the nginx site are valid and do what the README says.

The syntax checks use the real tools (`systemd-analyze verify`, `nginx -t`); a test is skipped only when
the tool is not installed (scripts/test.sh installs nginx).  The last test runs the whole chain on this
machine: nginx with the shipped site (a self-signed certificate, high ports) in front of gunicorn with the
shipped settings, on a SQLite database.
"""

from __future__ import annotations

import os
import runpy
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SITE = DEPLOY / "nginx" / "hailong.conf"
UNITS = sorted((DEPLOY / "systemd").iterdir())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gunicorn_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, object]:
    """deploy/gunicorn.conf.py as gunicorn reads it, with only `env` of its variables set."""
    for name in ("WEB_CONCURRENCY", "HAILONG_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))


def test_gunicorn_settings_scale_with_cores_share_the_port_and_keep_the_private_log_format(monkeypatch):
    from survey.access_log import ACCESS_LOG_FORMAT

    conf = _gunicorn_settings(monkeypatch)
    assert conf["workers"] == max(2, os.cpu_count() or 1)
    assert conf["reuse_port"] is True
    assert 0 < conf["graceful_timeout"] < conf["timeout"]
    assert conf["access_log_format"] == ACCESS_LOG_FORMAT and "%(h)s" not in conf["access_log_format"]
    assert _gunicorn_settings(monkeypatch, WEB_CONCURRENCY="7")["workers"] == 7


def test_gunicorn_serves_with_four_threads_per_worker_by_default_and_sync_on_request(monkeypatch):
    """Threads are the default (issue 14 §1: submissions share WAL flushes); HAILONG_THREADS=1 gives sync workers."""
    default = _gunicorn_settings(monkeypatch)
    assert (default["worker_class"], default["threads"]) == ("gthread", 4)
    sync = _gunicorn_settings(monkeypatch, HAILONG_THREADS="1")
    assert (sync["worker_class"], sync["threads"]) == ("sync", 1)
    eight = _gunicorn_settings(monkeypatch, HAILONG_THREADS="8")
    assert (eight["worker_class"], eight["threads"]) == ("gthread", 8)


def _units_for_this_machine(tmp_path: Path) -> list[Path]:
    """The shipped units with /srv/hailong → this checkout and the service user → root (verify checks both)."""
    env = tmp_path / "hailong.env"
    env.write_text("DATABASE_URL=sqlite:////var/lib/hailong/hailong.sqlite\n")
    out = []
    for unit in UNITS:
        text = (unit.read_text().replace("/srv/hailong", str(ROOT)).replace("/etc/hailong/hailong.env", str(env))
                .replace("User=hailong", "User=root").replace("Group=hailong", "Group=root"))
        target = tmp_path / unit.name
        target.write_text(text)
        out.append(target)
    return out


def test_app_unit_ends_orphans_and_restarts_on_failure():
    unit = (DEPLOY / "systemd" / "hailong.service").read_text()
    assert "KillMode=mixed" in unit and "Restart=on-failure" in unit
    assert "deploy/gunicorn.conf.py" in unit
    assert "OnCalendar=" in (DEPLOY / "systemd" / "hailong-jobs.timer").read_text()
    assert "periodic.sh" in (DEPLOY / "systemd" / "hailong-jobs.service").read_text()
    assert "backup create" in (DEPLOY / "periodic.sh").read_text()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_units_verify(tmp_path):
    units = _units_for_this_machine(tmp_path)
    run = subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True,
                         timeout=60)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Unknown" not in output and "bad unit file setting" not in output, output


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True, timeout=60)
    return cert, key


def _nginx_config(tmp_path: Path, http_port: int, https_port: int, app_port: int) -> Path:
    """nginx.conf for a test: the shipped site with its certificate, log and static paths moved here."""
    cert, key = _self_signed(tmp_path)
    site = (SITE.read_text()
            .replace("/etc/letsencrypt/live/khaosat.example.gov.vn/fullchain.pem", str(cert))
            .replace("/etc/letsencrypt/live/khaosat.example.gov.vn/privkey.pem", str(key))
            .replace("/var/log/nginx", str(tmp_path)).replace("/srv/hailong", str(ROOT))
            .replace("listen 443", f"listen {https_port}").replace("listen [::]:443", f"listen [::]:{https_port}")
            .replace("listen 80", f"listen {http_port}").replace("listen [::]:80", f"listen [::]:{http_port}")
            .replace("127.0.0.1:8000", f"127.0.0.1:{app_port}"))
    (tmp_path / "site.conf").write_text(site)
    temp = " ".join(f"{kind}_temp_path {tmp_path};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\ndaemon off;\nevents {{}}\n"
                    f"http {{\n include /etc/nginx/mime.types;\n {temp}\n include {tmp_path}/site.conf;\n}}\n")
    return conf


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (scripts/test.sh installs it)")
def test_nginx_site_passes_nginx_t(tmp_path):
    conf = _nginx_config(tmp_path, _free_port(), _free_port(), 8000)
    run = subprocess.run(["nginx", "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    site = SITE.read_text()
    for needle in ("Strict-Transport-Security", "gzip on", "client_max_body_size", "X-Forwarded-For",
                   "X-Forwarded-Proto", "location /static/"):
        assert needle in site
    assert "$remote_addr" not in site  # the proxy's log keeps citizens anonymous too


def _wait_port(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{what} did not listen on {port}")


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (scripts/test.sh installs it)")
def test_https_through_nginx_to_gunicorn(tmp_path, sqlite_template):
    """The production chain answers over HTTPS with HSTS, sends plain http to https, serves static files
    compressed and cached, and logs no client address."""
    db_file = tmp_path / "hailong.sqlite"
    shutil.copy(sqlite_template, db_file)
    app_port, http_port, https_port = _free_port(), _free_port(), _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_file}", "SECRET_KEY": "k" * 64, "HAILONG_PREWARM": "0",
           "HAILONG_PROXY_HOPS": "1", "HAILONG_BIND": f"127.0.0.1:{app_port}", "WEB_CONCURRENCY": "1",
           "HAILONG_INSTANCE": str(tmp_path)}
    app = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", str(DEPLOY / "gunicorn.conf.py"),
                            "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, start_new_session=True)
    conf = _nginx_config(tmp_path, http_port, https_port, app_port)
    proxy = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp_path)], stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        _wait_port(app_port, app, "gunicorn")
        _wait_port(https_port, proxy, "nginx")
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx),
                                             _NoRedirect())
        with opener.open(f"https://127.0.0.1:{https_port}/healthz", timeout=30) as resp:
            assert resp.status == 200
            assert "max-age=" in resp.headers["Strict-Transport-Security"]
        req = urllib.request.Request(f"https://127.0.0.1:{https_port}/static/css/app.css",
                                     headers={"Accept-Encoding": "gzip"})
        with opener.open(req, timeout=30) as resp:
            assert resp.headers["Content-Encoding"] == "gzip"
            assert "max-age=86400" in resp.headers["Cache-Control"]
        req = urllib.request.Request(f"https://127.0.0.1:{https_port}/static/js/kiosk.js?v=3")
        with opener.open(req, timeout=30) as resp:
            assert "immutable" in resp.headers["Cache-Control"]
        # plain http is sent to https
        try:
            opener.open(f"http://127.0.0.1:{http_port}/", timeout=30)
        except urllib.error.HTTPError as exc:
            assert exc.code == 301 and exc.headers["Location"].startswith("https://")
        else:
            raise AssertionError("plain http was served")
        log = (tmp_path / "hailong.access.log").read_text()
        assert "/healthz" in log and "127.0.0.1" not in log
    finally:
        for proc in (proxy, app):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=40)
        for proc in (proxy, app):
            if proc.stderr:
                proc.stderr.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None
