"""Configuration: the only place that reads the environment (12-factor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob the service has, read once from the environment."""

    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", protected_namespaces=(), populate_by_name=True
    )

    # Where embedded defaults (SQLite file, private Redis socket) live.
    var_dir: Path = Field(default=Path("var"), alias="MODERATION_VAR_DIR")
    # Empty means "embedded default": var_dir/moderation.sqlite.
    database_url: str = Field(default="", alias="DATABASE_URL")
    # Empty means "embedded default": a private redis-server on a unix socket under var_dir.
    redis_url: str = Field(default="", alias="REDIS_URL")
    # Empty means the artifact shipped in models/artifacts/.
    model_dir: str = Field(default="", alias="MODEL_DIR")
    # Expected sha256 of MODEL_DIR's model file: the folder's own manifest cannot vouch for it.
    model_sha256: str = Field(default="", alias="MODEL_SHA256")
    # How often each worker process asks the model registry which model is live (and swaps to
    # it); at most 30 s, so a promotion or rollback reaches every worker within 30 s.
    model_check_interval_seconds: float = Field(
        default=10.0, gt=0, le=30, alias="MODEL_CHECK_INTERVAL_SECONDS"
    )
    secret_key: str = Field(default="", alias="SECRET_KEY")
    # Encrypts the sources' signing secrets at rest (default: derived from SECRET_KEY);
    # comma-separated, the first encrypts and all decrypt.
    secrets_key: str = Field(default="", alias="SECRETS_KEY")
    # The scoring queue's name; callbacks go to delivery_queue_name beside it. Tests give each
    # run its own so runs never share tasks.
    queue_name: str = Field(default="moderation", alias="MODERATION_QUEUE")
    # Callbacks per delivery task: a task takes up to this many due events of one source and
    # POSTs them, one signed request each, over kept-alive connections, recording them in one
    # transaction. 0 keeps one task per event (the earlier design, kept for comparison).
    delivery_batch_size: int = Field(default=50, ge=0, le=1000, alias="DELIVERY_BATCH_SIZE")
    # How many of a batch's requests are in flight at once (request threads of the batch): a CMS
    # that takes 100 ms an answer still gets 10 times this many events a second. A batch never
    # holds two events of one comment, so their order is kept whatever the overlap.
    delivery_parallel_requests: int = Field(
        default=4, ge=1, le=32, alias="DELIVERY_PARALLEL_REQUESTS"
    )
    # A comment still pending after this many seconds is queued again by the sweeper.
    stale_pending_after_seconds: float = Field(default=60.0, alias="STALE_PENDING_AFTER_SECONDS")
    sweep_interval_seconds: float = Field(default=30.0, alias="SWEEP_INTERVAL_SECONDS")
    # Most comments a worker process scores in one task, one model call and one transaction;
    # 1 scores each comment in its own task (the design before batches, kept for comparison).
    score_batch_size: int = Field(default=100, ge=1, le=1000, alias="SCORE_BATCH_SIZE")
    # Longest a waiting comment is held for its batch to fill while a pool process is free, in
    # milliseconds (while all are busy it joins the next batch: worker.batches).
    score_batch_wait_ms: float = Field(default=10.0, gt=0, le=1000, alias="SCORE_BATCH_WAIT_MS")
    # Largest intake request body accepted, in bytes.
    max_request_bytes: int = Field(default=64 * 1024, alias="MAX_REQUEST_BYTES")
    # Standard Webhooks timestamp tolerance, in seconds.
    signature_tolerance_seconds: int = Field(default=300, alias="SIGNATURE_TOLERANCE_SECONDS")
    # Intake requests allowed per source (Flask-Limiter notation, counted in Redis); only
    # requests whose signature verified count.
    intake_rate_limit: str = Field(default="600/minute", alias="INTAKE_RATE_LIMIT")
    # Refused intake requests (unknown source, bad signature, replay) allowed per client
    # address before the intake answers 429 instead.
    intake_refused_rate_limit: str = Field(default="60/minute", alias="INTAKE_REFUSED_RATE_LIMIT")
    # When set, /metrics answers only requests with Authorization: Bearer <this token>.
    metrics_token: str = Field(default="", alias="METRICS_TOKEN")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    log_json: bool = Field(default=True, alias="LOG_JSON")
    # Public base URL used in links (self links, moderator page address).
    public_url: str = Field(default="", alias="PUBLIC_URL")
    # How many reverse proxies in front of the API set X-Forwarded-For/-Proto/-Host/-Port that
    # may be believed (0: none, the headers are ignored). Behind one TLS proxy: 1.
    trusted_proxies: int = Field(default=0, ge=0, le=10, alias="TRUSTED_PROXIES")
    # Set by `moderation up` for its API: the file where it says which children run (/readyz).
    up_status_file: str = Field(default="", alias="MODERATION_UP_STATUS")

    @property
    def delivery_queue_name(self) -> str:
        """Callbacks wait in their own queue, served by `moderation deliverer` (threads)
        while `moderation worker` serves the scoring one: a backlog of deliveries (or a slow
        CMS) cannot hold up decisions (measured: one shared FIFO queue delayed new comments by
        18 s behind 4,000 deliveries)."""
        return f"{self.queue_name}.deliveries"

    @property
    def worker_queues(self) -> str:
        """Both queues, for one Celery worker that scores and delivers (the tests' workers,
        bench/delivery.py); `moderation worker` and `moderation deliverer` take one each."""
        return f"{self.queue_name},{self.delivery_queue_name}"

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # Heroku-style URLs name the dialect "postgres"; SQLAlchemy wants psycopg 3.
            if url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://") :]
            elif url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        return f"sqlite:///{(self.var_dir / 'moderation.sqlite').resolve()}"

    @property
    def embedded_redis_socket(self) -> Path:
        return (self.var_dir / "redis.sock").resolve()

    @property
    def broker_url(self) -> str:
        """Redis for kombu, which names a unix socket "redis+socket://" (REDIS_URL may say unix://)."""
        url = self.redis_url or f"unix://{self.embedded_redis_socket}"
        if url.startswith("unix://"):
            return "redis+socket://" + url[len("unix://") :]
        return url

    @property
    def redis_client_url(self) -> str:
        """The same Redis as the broker, in the form redis-py's from_url understands."""
        url = self.redis_url or f"unix://{self.embedded_redis_socket}"
        if url.startswith("redis+socket://"):
            return "unix://" + url[len("redis+socket://") :]
        return url


_current: Settings | None = None


def get_settings() -> Settings:
    """The process's settings: from the environment on first use, or what configure() set."""
    global _current
    if _current is None:
        _current = Settings()
    return _current


def configure(**overrides: Any) -> Settings:
    """Settings from the environment with explicit overrides (by field name); made current."""
    global _current
    _current = Settings(**overrides)
    return _current


# The key create_app used when SECRET_KEY was unset; it is published, so sessions signed with it
# can be forged by anyone.
PUBLISHED_SECRET_KEYS = frozenset({"dev-only-not-secret"})
MIN_SECRET_KEY_CHARS = 32
# A long key made of a few characters repeated ("aaaa...", "abab...") is a guess away.
MIN_SECRET_KEY_DISTINCT_CHARS = 8
SECRET_KEY_HINT = (
    "set it to a long random value, e.g. from "
    "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
)


def secret_key_problem(key: str) -> str | None:
    """Why key cannot sign moderator sessions, or None when it is long and varied enough."""
    hint = SECRET_KEY_HINT
    if not key:
        return f"SECRET_KEY is not set: {hint}"
    if key in PUBLISHED_SECRET_KEYS:
        return f"SECRET_KEY is a published default: {hint}"
    if len(key) < MIN_SECRET_KEY_CHARS:
        return f"SECRET_KEY is {len(key)} characters, fewer than {MIN_SECRET_KEY_CHARS}: {hint}"
    if len(set(key)) < MIN_SECRET_KEY_DISTINCT_CHARS:
        distinct = MIN_SECRET_KEY_DISTINCT_CHARS
        return f"SECRET_KEY uses fewer than {distinct} distinct characters: {hint}"
    return None
