"""Aggregator settings (env prefix ``AGGREGATOR_``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from moodstream_common.settings import BrokerSettings


class Settings(BaseSettings):
    """What the aggregator service reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="AGGREGATOR_", extra="ignore")

    web_host: str = Field(default="127.0.0.1", description="HTTP bind address.")
    web_port: int = Field(default=8002, description="HTTP port for views and the dashboard.")
    advertised_url: str = Field(
        default="",
        description="URL other aggregator workers use to reach this one (e.g. "
        "http://aggregator-1:8002); empty = http://<web_host>:<web_port>.",
    )
    batch_size: int = Field(
        default=1_000,
        description="Most scored records applied as one batch: a row changed by many "
        "records of a batch is written (and sent to the changelog) once.",
    )
    batch_within_seconds: float = Field(
        default=0.25, description="Longest wait to fill a batch before applying what is there."
    )
    grace_seconds: float = Field(
        default=60.0,
        description="Records whose window closed more than this before the newest event "
        "time seen are counted, and also reported as late.",
    )
    second_windows_retained: int = Field(
        default=3_600, description="Per-second windows kept behind the newest event time."
    )
    minute_windows_retained: int = Field(
        default=1_440, description="Per-minute windows kept behind the newest event time."
    )
    message_retention_seconds: float = Field(
        default=86_400.0,
        description="Per-message state kept this long behind the newest event time. An "
        "event for a message older than this whose state is gone is not applied (it "
        "may have been counted already) and is reported as expired.",
    )
    watermark_max_ahead_seconds: float = Field(
        default=60.0,
        description="A record moves the newest event time at most this far past the "
        "time ingest received it, so a future timestamp cannot expire recent state.",
    )
    expiry_interval_seconds: float = Field(
        default=10.0, description="How often each partition's expired rows are deleted."
    )
    store: str = Field(
        default="rocksdb://", description="Table store: rocksdb:// (production) or memory://."
    )
    rocksdb_write_buffer_mb: int = Field(
        default=4,
        description="RocksDB memtable size per table partition; with rocksdb_write_buffers "
        "and rocksdb_block_cache_mb it bounds the store's memory (Faust's default is 64).",
    )
    rocksdb_write_buffers: int = Field(
        default=2, description="Memtables per table partition before writes wait for a flush."
    )
    rocksdb_block_cache_mb: int = Field(
        default=8,
        description="RocksDB read cache per table partition (Faust's default is 2048).",
    )
    publish_interval_seconds: float = Field(
        default=1.0, description="How often changed aggregates are published to 'aggregates'."
    )
    read_token: SecretStr = Field(
        default=SecretStr(""),
        description="Bearer token required on every view except the probes and the "
        "dashboard shell; empty = views are public.",
    )
    alert_rules: str = Field(
        default="",
        description="Path of the alert rules file (YAML, see the README's Alerts); empty = "
        "no alerts. A file that is not valid stops the aggregator at start, naming the field.",
    )
    alert_check_within_seconds: float = Field(
        default=1.0,
        description="Longest the rules wait, once aggregates changed, before they are checked.",
    )
    alert_webhook_url: str = Field(
        default="",
        description="http(s) URL each alert record is POSTed to as JSON; empty = none.",
    )
    alert_webhook_secret: SecretStr = Field(
        default=SecretStr(""),
        description="With it set, each webhook POST carries X-Moodstream-Signature: "
        "sha256=<HMAC-SHA256 of the body with this secret>.",
    )
    alert_webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Longest one webhook POST may take."
    )
    alert_webhook_attempts: int = Field(
        default=5,
        ge=1,
        description="POSTs of one alert before it is given up (logged and counted); the "
        "alerts topic still holds it.",
    )
    broker: BrokerSettings = Field(default_factory=BrokerSettings)

    @field_validator("alert_webhook_url")
    @classmethod
    def _webhook_is_http(cls, url: str) -> str:
        if not url:
            return url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("an http:// or https:// URL with a host, or empty for none")
        return url


def load() -> Settings:
    """Read settings from the environment."""
    return Settings()
