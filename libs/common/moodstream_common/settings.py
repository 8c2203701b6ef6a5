"""Settings shared by every service: broker, topic prefix, state directory.

Each service adds its own ``Settings`` class (env prefix ``INGEST_``, ``ANALYZER_``,
``AGGREGATOR_``); these shared values use the ``MOODSTREAM_`` prefix.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from moodstream_common import topics


class BrokerSettings(BaseSettings):
    """Where the Kafka-protocol broker is and how to talk to it."""

    model_config = SettingsConfigDict(env_prefix="MOODSTREAM_", extra="ignore")

    broker_url: str = Field(
        default="kafka://127.0.0.1:9092",
        description="Faust broker URL(s), e.g. kafka://redpanda:9092 (comma separated).",
    )
    broker_flavor: str = Field(
        default="kafka",
        description="'kafka' for Redpanda/Kafka; 'tansu' turns on the embedded-broker "
        "workarounds in moodstream_common.broker_compat.",
    )
    topic_prefix: str = Field(default="", description="Prefix for every topic and app id.")
    data_dir: Path = Field(default=Path("var/state"), description="Local state (RocksDB).")
    environment: str = Field(default="development", description="development | production")
    broker_security_protocol: str = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    broker_sasl_mechanism: str = Field(default="PLAIN", description="PLAIN, SCRAM-SHA-256/512.")
    broker_sasl_username: str = Field(default="", description="SASL user name.")
    broker_sasl_password: SecretStr = Field(default=SecretStr(""), description="SASL password.")

    def topic(self, spec: topics.TopicSpec) -> str:
        """Physical name of ``spec`` in this deployment."""
        return spec.name(self.topic_prefix)

    def app_id(self, service: str) -> str:
        """Faust app id (and consumer group) of ``service`` in this deployment."""
        return f"{self.topic_prefix}moodstream-{service}"

    @property
    def bootstrap_servers(self) -> str:
        """``host:port[,host:port]`` form for plain aiokafka clients."""
        return ",".join(
            part.split("://", 1)[-1] for part in self.broker_url.split(",") if part.strip()
        )
