"""Settings from the environment, typed; production refuses to start without a real secret."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INSTANCE_DIR = Path(os.environ.get("HAILONG_INSTANCE", Path.cwd() / "instance"))

DESIGNS = ("counters", "clusters")  # HAILONG_DESIGN (docs/methodology-design.md); the first is the default
DEFAULT_BOOTSTRAP_B, DEFAULT_BOOTSTRAP_SEED = 500, 20240601
DEFAULT_KIOSK_API_LIMIT = "120 per minute"
DEFAULT_PASSWORD_HASH = "scrypt"


def password_hash_method() -> str:
    """HAILONG_PASSWORD_HASH (a werkzeug method such as `scrypt:32768:8:1`): read at hashing time, also by the
    command line outside an app; the test suite lowers the cost with it."""
    return os.environ.get("HAILONG_PASSWORD_HASH") or DEFAULT_PASSWORD_HASH


def environment_secret_key() -> str:
    """SECRET_KEY as the environment gives it ("" when unset): `flask doctor` checks it before any fallback."""
    return os.environ.get("SECRET_KEY") or ""


def prometheus_multiproc_dir() -> str | None:
    """PROMETHEUS_MULTIPROC_DIR, shared with prometheus_client itself (gunicorn workers write their metrics there)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


# Settings read from the environment only when set (their defaults live beside the code that uses them).
OPTIONAL: dict[str, type] = {
    "HAILONG_BOOTSTRAP_B": int,  # bootstrap replicates for ranks (default DEFAULT_BOOTSTRAP_B)
    "HAILONG_BOOTSTRAP_SEED": int,  # seed of those replicates: published ranks are reproducible
    "HAILONG_KIOSK_API_LIMIT": str,  # per-kiosk API cap, e.g. "120 per minute"
    "HAILONG_DOWNLOAD_DIR": str,  # private folder for one-time downloads (invitation sheets, checked uploads)
    "HAILONG_RESULTS_CACHE_MB": int,  # memory bound of the results cache per serving process (default 384)
    "HAILONG_MONTH_CELLS_MB": int,  # memory bound of the decoded month cells per serving process (default 96)
    "HAILONG_MONTH_CELLS_DIR": str,  # month cells on disk, shared by workers and restarts ("off"; month_files.py)
    "DATABASE_REPLICA_URL": str,  # read replica for dashboard GET pages (survey/database.py); unset = primary only
    "HAILONG_METRICS_TOKEN": str,  # bearer token for /metrics; unset = only from this machine
    "HAILONG_PREWARM": int,  # 0 = a serving process does not warm the results cache at start-up
    "HAILONG_DESIGN": str,  # sampling design of every interval: counters (default) or clusters (results/design.py)
    "HAILONG_LINK_NETWORK_LIMIT": str,  # QR poster + receipt answers per service point per network ("5 per hour")
    "HAILONG_LINK_POINT_CEILING": str,  # poster + receipt answers per service point beyond which held ("20 per hour")
    "HAILONG_POSTER_COUNTS": int,  # 0 = QR poster answers are stored held, out of official figures (default 1)
    "HAILONG_PROXY_HOPS": int,  # reverse proxies in front of the app whose X-Forwarded-For is trusted (default 0)
    "HAILONG_RESULTS_CACHE": int,  # 0 = no results cache at all (every page recomputes; for measurements)
    "HAILONG_KIOSK_THANKS_SECONDS": int,  # how long the kiosk shows its thank-you screen (default 6)
    "HAILONG_KIOSK_HEARTBEAT_SECONDS": int,  # how often a kiosk reports its queue (default 60)
    "HAILONG_KIOSK_IDLE_PROMPT_SECONDS": int,  # the "still answering?" countdown before the idle reset (default 15)
    "HAILONG_BACKUP_DIR": str,  # where `flask backup create` writes (default <instance>/backups)
    "HAILONG_BACKUP_KEEP": int,  # backups kept by `flask backup create --prune` (default 14)
    "HAILONG_SPEECH_ENGINE": str,  # espeak-ng command reading kiosk questions aloud; "off" = device voices only
    "HAILONG_SPEECH_RATE": int,  # its speed in words per minute (default 140)
    "HAILONG_SPEECH_DIR": str,  # where its audio files are kept (default <instance>/speech)
}


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration is unusable (never silently defaulted in production)."""


SECRET_KEY_MIN_BYTES = 32
SECRET_KEY_FILE = "secret_key"


def instance_secret_key(instance_dir: Path) -> str:
    """The signing key of this instance outside production: random, made once, kept in the instance
    folder readable by the owner only (0600).  There is no public default a forger could use."""
    path = instance_dir / SECRET_KEY_FILE
    if not path.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        # written whole under another name, then linked: processes starting together agree on one key
        tmp = instance_dir / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(SECRET_KEY_MIN_BYTES) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won; use its key
        finally:
            tmp.unlink()
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    key = path.read_text(encoding="ascii").strip()
    if len(key.encode()) < SECRET_KEY_MIN_BYTES:
        raise ConfigError(f"{path} holds a key shorter than {SECRET_KEY_MIN_BYTES} bytes: delete it or set SECRET_KEY")
    return key


def _optional_from_env() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, kind in OPTIONAL.items():
        raw = os.environ.get(name)
        if raw is None or raw == "":
            continue
        try:
            found[name] = kind(raw)
        except ValueError as exc:
            raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc
    for name in ("HAILONG_LINK_NETWORK_LIMIT", "HAILONG_LINK_POINT_CEILING"):
        if name in found:
            _check_window(name, found[name])
    if found.get("HAILONG_DESIGN", DESIGNS[0]) not in DESIGNS:
        raise ConfigError(f"HAILONG_DESIGN must be {' or '.join(DESIGNS)}, not {found['HAILONG_DESIGN']!r}")
    return found


def _check_window(name: str, text: str) -> None:
    """A limit keyed by the client-address hash must expire within a day (docs/security.md §2)."""
    from limits import parse

    try:
        item = parse(text)
    except ValueError as exc:
        raise ConfigError(f"{name} must look like '5 per hour', not {text!r}") from exc
    if item.get_expiry() > 24 * 3600:
        raise ConfigError(f"{name} must use a window of at most a day, not {text!r}")


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class Settings:
    """Every setting HaiLong reads, with its environment variable and default."""

    production: bool = False
    secret_key: str | None = None
    database_url: str = ""
    ratelimit_storage_uri: str = "memory://"
    n_min: int = 30
    kiosk_idle_seconds: int = 60
    kiosk_min_interval_seconds: int = 10
    comment_max_length: int = 2000
    timezone: str = "Asia/Ho_Chi_Minh"
    public_url: str = "http://127.0.0.1:5000"  # base of QR/invitation links printed on posters and receipts
    link_device_limit: str = "1 per hour"  # per phone (device cookie) per service point, QR poster and receipts
    extra: dict[str, Any] = field(default_factory=dict)
    instance_dir: Path = INSTANCE_DIR  # where the generated signing key lives outside production

    @classmethod
    def from_env(cls) -> Settings:
        production = _bool("HAILONG_PRODUCTION", False) or os.environ.get("FLASK_ENV") == "production"
        default_db = f"sqlite:///{INSTANCE_DIR / 'hailong.sqlite'}"
        return cls(
            production=production,
            secret_key=os.environ.get("SECRET_KEY"),
            database_url=os.environ.get("DATABASE_URL", default_db),
            ratelimit_storage_uri=os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
            n_min=int(os.environ.get("HAILONG_N_MIN", "30")),
            kiosk_idle_seconds=int(os.environ.get("HAILONG_KIOSK_IDLE_SECONDS", "60")),
            kiosk_min_interval_seconds=int(os.environ.get("HAILONG_KIOSK_MIN_INTERVAL_SECONDS", "10")),
            public_url=os.environ.get("HAILONG_PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
            link_device_limit=os.environ.get("HAILONG_LINK_DEVICE_LIMIT", "1 per hour"),
            extra=_optional_from_env(),
            instance_dir=Path(os.environ["HAILONG_INSTANCE"]) if os.environ.get("HAILONG_INSTANCE") else INSTANCE_DIR,
        )

    def to_flask(self) -> dict[str, Any]:
        """Flask config keys; in production a missing SECRET_KEY is a start-up error."""
        if self.production and not self.secret_key:
            raise ConfigError("SECRET_KEY must be set when HAILONG_PRODUCTION/FLASK_ENV=production")
        size = len((self.secret_key or "").encode())
        if self.production and size < SECRET_KEY_MIN_BYTES:
            raise ConfigError(
                f"SECRET_KEY is {size} bytes long; production needs at least "
                f"{SECRET_KEY_MIN_BYTES} random bytes, e.g. the output of "
                "python -c 'import secrets; print(secrets.token_hex(32))'")
        secret = self.secret_key or instance_secret_key(self.instance_dir)
        url = self.database_url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            # the embedded default lives in instance/: make the folder, not the user
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return {
            "SECRET_KEY": secret,
            "DATABASE_URL": url,
            "HAILONG_PRODUCTION": self.production,
            "RATELIMIT_STORAGE_URI": self.ratelimit_storage_uri,
            "HAILONG_N_MIN": self.n_min,
            "HAILONG_KIOSK_IDLE_SECONDS": self.kiosk_idle_seconds,
            "HAILONG_KIOSK_MIN_INTERVAL_SECONDS": self.kiosk_min_interval_seconds,
            "HAILONG_COMMENT_MAX_LENGTH": self.comment_max_length,
            "HAILONG_TIMEZONE": self.timezone,
            "HAILONG_PUBLIC_URL": self.public_url,
            "HAILONG_LINK_DEVICE_LIMIT": self.link_device_limit,
            "HAILONG_INSTANCE": str(self.instance_dir),
            "HAILONG_BOOTSTRAP_B": DEFAULT_BOOTSTRAP_B,
            "HAILONG_BOOTSTRAP_SEED": DEFAULT_BOOTSTRAP_SEED,
            "HAILONG_KIOSK_API_LIMIT": DEFAULT_KIOSK_API_LIMIT,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.production,
            "REMEMBER_COOKIE_SECURE": self.production,
            "PERMANENT_SESSION_LIFETIME": 8 * 3600,
            "BABEL_DEFAULT_LOCALE": "vi",
            "BABEL_DEFAULT_TIMEZONE": self.timezone,
            "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).resolve().parent.parent / "translations"),
            "WTF_CSRF_TIME_LIMIT": None,
            "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
            **self.extra,
        }
