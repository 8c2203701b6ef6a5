"""Ingest settings (env prefix ``INGEST_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from moodstream_common.settings import BrokerSettings, require_tokens_in_production


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
    topic_batch_wait_seconds: float = Field(
        default=0.05, description="Longest a partial input-topic batch waits for more events."
    )
    detect_language: bool = Field(
        default=True,
        description="Detect each message's language (the analyzer scores only the languages "
        "its model supports); false = every message is 'und' and is scored.",
    )
    language_worker: bool = Field(
        default=True,
        description="Detect the languages of large batches in a child process, beside the "
        "event loop (another core does the work); false = always inline.",
    )
    language_worker_min_batch: int = Field(
        default=32,
        ge=1,
        description="Texts in a batch below which its languages are detected inline (a "
        "round trip to the child costs about what 20-30 detections do).",
    )
    delivery_timeout_seconds: float = Field(
        default=10.0,
        description="Longest an intake request waits for the broker to take its records "
        "before answering 503 (the records may still arrive: retry with the same ids).",
    )
    api_token: SecretStr = Field(
        default=SecretStr(""),
        description="Bearer token required on intake endpoints; empty = open (refused in "
        "production unless MOODSTREAM_ALLOW_OPEN_ENDPOINTS=true).",
    )
    amqp_url: SecretStr = Field(
        default=SecretStr(""),
        description="RabbitMQ URL (amqp://user:pass@host:5672/vhost) of the AMQP bridge; "
        "empty = bridge off.",
    )
    amqp_queues: str = Field(
        default="incoming_texts,sentiment-analysis-queue",
        description="Comma-separated queues the bridge consumes (JSON messages, or "
        '{"text": ...}).',
    )
    amqp_declare: bool = Field(
        default=True,
        description="Declare the queues (durable, dead-lettering to amqp_failed_exchange); "
        "false = use existing queues as they are.",
    )
    amqp_prefetch: int = Field(
        default=200, description="Unacknowledged AMQP messages in flight per bridge (QoS)."
    )
    amqp_batch_size: int = Field(
        default=100, description="Most AMQP messages validated and sent as one batch."
    )
    amqp_batch_wait_seconds: float = Field(
        default=0.05, description="Longest a partial AMQP batch waits for more messages."
    )
    amqp_sink: bool = Field(
        default=True,
        description="With amqp_url set, also publish scored results and dead letters to "
        "RabbitMQ.",
    )
    amqp_sink_batch_size: int = Field(
        default=200,
        description="Most scored records or dead letters published to RabbitMQ as one batch.",
    )
    amqp_sink_batch_wait_seconds: float = Field(
        default=0.2, description="Longest a partial RabbitMQ publish batch waits for more."
    )
    amqp_processed_queue: str = Field(
        default="processed_texts", description="Queue that receives each scored message."
    )
    amqp_failed_exchange: str = Field(
        default="moodstream.failed",
        description="Dead-letter exchange for failures; bound to amqp_failed_queue.",
    )
    amqp_failed_queue: str = Field(
        default="failed_texts", description="Queue that receives each dead letter."
    )
    broker: BrokerSettings = Field(default_factory=BrokerSettings)

    @model_validator(mode="after")
    def _tokens_set_in_production(self) -> Settings:
        require_tokens_in_production(self.broker, {"INGEST_API_TOKEN": self.api_token})
        return self


def amqp_queue_names(settings: Settings) -> list[str]:
    """The bridge's source queues, in order, without blanks."""
    return [name.strip() for name in settings.amqp_queues.split(",") if name.strip()]


def load() -> Settings:
    """Read settings from the environment."""
    return Settings()
