"""Issue 11 §5 (logs): an access log line never joins a client address to a receipt token — neither with
gunicorn (deploy/gunicorn.conf.py) nor with the development server (werkzeug, `flask run`)."""

from __future__ import annotations

import logging
import runpy
import threading
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from werkzeug.serving import make_server

TOKEN = "Tk9vX2FfcmVhbF90b2tlbl8xMjM0NTY3"
CONF = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"


def test_gunicorn_access_log_has_no_address_and_no_token(tmp_path):
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    conf = runpy.run_path(str(CONF))
    fmt = conf["access_log_format"]
    for atom in ("%(h)s", "%(r)s", "%(q)s", "%(f)s", "%(a)s", "}i"):
        assert atom not in fmt
    cfg = Config()
    log_file = tmp_path / "access.log"
    cfg.set("accesslog", str(log_file))
    cfg.set("access_log_format", fmt)
    conf["on_starting"](None)
    logger = Logger(cfg)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/r/{TOKEN}?lang=en", "PATH_INFO": f"/r/{TOKEN}",
               "QUERY_STRING": "lang=en", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.77",
               "HTTP_X_FORWARDED_FOR": "198.51.100.5", "HTTP_REFERER": f"https://x.example/r/{TOKEN}"}
    resp = SimpleNamespace(status="200 OK", sent=1234, headers=[])
    req = SimpleNamespace(headers=[("X-FORWARDED-FOR", "198.51.100.5")])
    logger.access(resp, req, environ, timedelta(milliseconds=12))
    access_logger = logging.getLogger("gunicorn.access")
    for handler in list(access_logger.handlers):
        handler.close()
        access_logger.removeHandler(handler)
    line = log_file.read_text()
    assert '"GET /r/<token> HTTP/1.1" 200 1234' in line
    assert TOKEN not in line and "203.0.113.77" not in line and "198.51.100.5" not in line and "lang=en" not in line


def test_dev_server_access_log_has_no_address_and_no_token(app, caplog):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/r/{TOKEN}?lang=en", timeout=10).close()
            except urllib.error.HTTPError as exc:  # an unknown token is a 404 page: still logged
                exc.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    access = [line for line in lines if "/r/" in line]
    assert access, lines
    for line in lines:
        assert TOKEN not in line and "127.0.0.1" not in line and "lang=en" not in line
    assert "GET /r/<token> HTTP/1.1" in access[0]


def test_the_app_logger_masks_tokens_too(app, caplog):
    with caplog.at_level(logging.ERROR, logger=app.logger.name):
        app.logger.error("Exception on %s [%s]", f"/r/{TOKEN}", "POST")
    assert [r.getMessage() for r in caplog.records] == ["Exception on /r/<token> [POST]"]
