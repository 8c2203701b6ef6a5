"""Ingest settings (env prefix ``INGEST_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from moodstream_common.settings import BrokerSettings


class Settings(BaseSettings):
    """What the ingest service reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")

    web_host: str = Field(default="127.0.0.1", description="HTTP bind address.")
    web_port: int = Field(default=8000, description="HTTP port for intake.")
    max_body_bytes: int = Field(default=1_000_000, description="Largest accepted HTTP body.")
    max_text_chars: int = Field(default=10_000, description="Longest accepted message text.")
    max_batch_items: int = Field(default=1_000, description="Most items in one batch request.")
    topic_batch_size: int = Field(
        default=500, description="Most input-topic events validated and sent as one batch."
    )
    delivery_timeout_seconds: float = Field(
        default=10.0,
        description="Longest an intake request waits for the broker to take its records "
        "before answering 503 (the records may still arrive: retry with the same ids).",
    )
    api_token: SecretStr = Field(
        default=SecretStr(""),
        description="Bearer token required on intake endpoints; empty = open (development).",
    )
    broker: BrokerSettings = Field(default_factory=BrokerSettings)


def load() -> Settings:
    """Read settings from the environment."""
    return Settings()
