"""Configuration, read once from the environment (and an optional `.env`) by both services."""

from __future__ import annotations

import logging
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from yarl import URL

log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 32
# The legal documents file shipped with the repo (LEGAL_DOCUMENTS_FILE overrides it).
LEGAL_DOCUMENTS_FILE = (
    Path(__file__).resolve().parent.parent
    / "services"
    / "api"
    / "consents"
    / "legal_documents.json"
)
_PLACEHOLDERS = {"changeme", "change-me", "secret", "jwt-secret", "please-change-me"}


class DatabaseSettings(BaseSettings):
    """What the migration runner needs, and nothing more (no JWT secret to run `make migrate`)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    database_url: str = "postgresql://postgres@127.0.0.1:5432/withbowwow"


class Settings(DatabaseSettings):
    """Every knob of the backend. Names match CONTRACT section 1 (case-insensitive)."""

    app_env: Literal["development", "test", "production"] = "production"
    redis_url: str = "redis://127.0.0.1:6379/0"
    jwt_secret: SecretStr | None = None

    host: str = "127.0.0.1"
    # Proxies (addresses or CIDR blocks, comma-separated) whose X-Forwarded-For is believed: the
    # client's address, which rate limits key on, is then the nearest hop not among them.
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    # Web origins (`https://app.example.com`, comma-separated) the API answers CORS for:
    # an Expo web or react-native-web build served from one of them may call it.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    api_port: int = Field(default=8000, ge=1, le=65535)
    realtime_port: int = Field(default=8001, ge=1, le=65535)
    # Each process's internal listener (GET /metrics, GET /healthz) on HOST; 0: any free port.
    api_metrics_port: int = Field(default=9100, ge=0, le=65535)
    realtime_metrics_port: int = Field(default=9101, ge=0, le=65535)
    push_metrics_port: int = Field(default=9102, ge=0, le=65535)
    # Read by shared/logging_setup.py from the environment, before the settings; here it is
    # validated and documented.
    log_format: Literal["text", "json"] = "text"

    fcm_project_id: str | None = None
    fcm_credentials_file: str | None = None
    fcm_base_url: str = "https://fcm.googleapis.com"
    # The push worker (services/api/push_worker): see docs/push.md for how these interact.
    push_concurrency: int = Field(default=256, ge=1)
    push_batch_size: int = Field(default=256, ge=1)
    push_max_attempts: int = Field(default=8, ge=1)
    push_retry_base_s: float = Field(default=2.0, gt=0)
    push_retry_max_s: float = Field(default=600.0, gt=0)
    push_send_timeout_s: float = Field(default=10.0, gt=0)
    push_reclaim_idle_s: float = Field(default=60.0, gt=0)
    push_sweep_interval_s: float = Field(default=10.0, gt=0)
    push_sweep_grace_s: float = Field(default=120.0, gt=0)
    push_delivery_retention_s: float = Field(default=30 * 24 * 3600, gt=0)

    access_token_ttl_s: int = Field(default=15 * 60, gt=0)
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, gt=0)
    # How often a process reads ended sessions from the database while its Redis subscription
    # to them is down (shared/ended_sessions.py); the contract allows 1 s for a refusal.
    session_sync_interval_s: float = Field(default=0.5, gt=0)
    # Limits of /auth/* and /me/password (services/api/accounts/limits.py): sized so that the
    # crowd behind one carrier-NAT or campus address never meets them. Only failed logins,
    # refreshes and current passwords count; every sign-up counts.
    signup_limit_per_address: int = Field(default=300, ge=1)
    signup_window_s: int = Field(default=3600, gt=0)
    login_failure_limit_per_account_address: int = Field(default=20, ge=1)
    login_failure_limit_per_account: int = Field(default=200, ge=1)
    login_failure_limit_per_address: int = Field(default=1000, ge=1)
    refresh_failure_limit_per_address: int = Field(default=1000, ge=1)
    password_failure_limit_per_user: int = Field(default=10, ge=1)
    auth_failure_window_s: int = Field(default=15 * 60, gt=0)
    # Per-user limits on the writes that notify someone (services/api/web/write_limits.py), per
    # WRITE_LIMIT_WINDOW_S; far above what a person does by hand. Invitations from one person to
    # another are also at most INVITATION_LIMIT_PER_PAIR an hour (the contract's 5).
    follow_limit_per_user: int = Field(default=300, ge=1)
    invitation_limit_per_user: int = Field(default=60, ge=1)
    invitation_limit_per_pair: int = Field(default=5, ge=1)
    like_limit_per_user: int = Field(default=1000, ge=1)
    comment_limit_per_user: int = Field(default=300, ge=1)
    write_limit_window_s: int = Field(default=3600, gt=0)
    poll_interval_s: int = Field(default=30, gt=0)
    invitation_ttl_s: int = Field(default=2 * 3600, gt=0)
    max_walk_duration_s: int = Field(default=4 * 3600, gt=0)
    invitation_sweep_interval_s: float = Field(default=1.0, gt=0)
    # The location-access ledger keeps an entry this long after its last relay (위치정보법 §16②
    # asks for 6 months or more); the API prunes what is older.
    location_log_retention_days: int = Field(default=183, gt=0)
    db_pool_max_size: int = Field(default=20, ge=1)
    # Where the links of emails lead (CONTRACT section 7): the API's public URL.
    public_base_url: str = "http://127.0.0.1:8000"
    # SMTP for email (`smtp://user:pass@host:587`, STARTTLS when offered; `smtps://` for implicit
    # TLS). Unset: each email is written as an .eml file under MAIL_DIR.
    smtp_url: SecretStr | None = None
    mail_from: str = "withbowwow <no-reply@withbowwow.app>"
    mail_dir: str = ".data/mail"
    # The push worker's email delivery (services/api/push_worker/mailer.py): how often it looks
    # for new emails, the backoff after a failure (exponential from base to max, retried for as
    # long as SMTP is down) and how long one SMTP exchange may take.
    email_poll_interval_s: float = Field(default=1.0, gt=0)
    email_retry_base_s: float = Field(default=5.0, gt=0)
    email_retry_max_s: float = Field(default=300.0, gt=0)
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    # The legal documents and their current versions (CONTRACT section 3, Consents).
    legal_documents_file: str = str(LEGAL_DOCUMENTS_FILE)
    # Extra objectionable words, one a line, added to the built-in lists (section 3, Filtering).
    moderation_wordlist_file: str | None = None
    password_reset_limit_per_address: int = Field(default=30, ge=1)
    # Moderation (CONTRACT section 6).
    report_limit_per_user: int = Field(default=20, ge=1)
    auto_hide_reporters: int = Field(default=3, ge=1)
    auto_hide_min_account_age_h: float = Field(default=24, ge=0)
    report_evidence_retention_days: int = Field(default=365, gt=0)
    ban_retention_days: int = Field(default=365, gt=0)
    # A gateway that gets SIGTERM closes its sockets with 1001 in turns over this many seconds.
    shutdown_drain_s: float = Field(default=10.0, ge=0)
    shutdown_timeout_s: float = Field(default=5.0, gt=0)

    @field_validator("trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_only(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        """Each an origin as a browser sends it: scheme, host and port, no path."""
        for origin in origins:
            url = URL(origin)
            if url.scheme not in ("http", "https") or not url.host or str(url.origin()) != origin:
                raise ValueError(f"CORS_ORIGINS: {origin!r} is not an origin like https://host")
        return origins

    @model_validator(mode="after")
    def _require_real_secret(self) -> Settings:
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        if not secret:
            raise ValueError("JWT_SECRET must be set (make run provides a development one)")
        weak = secret.lower() in _PLACEHOLDERS or len(secret.encode()) < MIN_SECRET_BYTES
        if weak and self.app_env != "development":
            raise ValueError(
                f"JWT_SECRET must be {MIN_SECRET_BYTES}+ random bytes, not a placeholder"
            )
        if weak:  # only development gets this far with one
            log.warning("!!! APP_ENV=development: JWT_SECRET is weak, fit for development only !!!")
        return self

    @property
    def jwt_key(self) -> str:
        assert self.jwt_secret is not None  # guaranteed by the validator
        return self.jwt_secret.get_secret_value()

    @property
    def fcm_enabled(self) -> bool:
        return bool(self.fcm_project_id and self.fcm_credentials_file)
