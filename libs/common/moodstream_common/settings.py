"""Settings shared by every service: broker, topic prefix, state directory.

Each service adds its own ``Settings`` class (env prefix ``INGEST_``, ``ANALYZER_``,
``AGGREGATOR_``); these shared values use the ``MOODSTREAM_`` prefix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from moodstream_common import topics

_INPUT_GROUP_SUFFIXES = {"ingest": "-events", "analyzer": "-raw"}
"""Services reading their input outside Faust, and their group's suffix (input topic)."""


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
    environment: Literal["development", "production"] = Field(
        default="development",
        description="`production` refuses to start while a token guarding an endpoint that "
        "changes state is empty (INGEST_API_TOKEN), unless MOODSTREAM_ALLOW_OPEN_ENDPOINTS "
        "says so.",
    )
    allow_open_endpoints: bool = Field(
        default=False,
        description="In production, start even with endpoints that change state left open "
        "(no token), e.g. behind a gateway that authenticates.",
    )
    topic_replication_factor: int = Field(
        default=1,
        ge=1,
        description="Copies of each topic the services create (changelogs, internal "
        "topics): 3 on a production cluster of three or more brokers.",
    )
    broker_session_timeout: float | None = Field(
        default=None,
        gt=0,
        description="Seconds a worker may go silent before its group hands its partitions "
        "to the others (a killed worker's are idle that long). Default: Faust's 60 s for "
        "the Faust consumers, aiokafka's 10 s for the input readers; the embedded broker "
        "uses 3 s (broker_compat (a)).",
    )
    broker_idempotent_producer: bool = Field(
        default=True,
        description="Kafka's idempotent producer: a send retried after a lost answer is "
        "written once. Ignored on the embedded broker, which refuses it (broker_compat (e)).",
    )
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

    def input_group(self, service: str) -> str:
        """The consumer group that reads ``service``'s input topic (what a replay rewinds).

        The Faust app's own group, except for the services that read their input with a
        plain aiokafka consumer in a group of their own
        (:mod:`moodstream_common.input_batches`): ingest and the analyzer.
        """
        return self.app_id(service) + _INPUT_GROUP_SUFFIXES.get(service, "")

    @property
    def bootstrap_servers(self) -> str:
        """``host:port[,host:port]`` form for plain aiokafka clients."""
        # Faust accepts both separators in the URL list; so does this.
        parts = self.broker_url.replace(";", ",").split(",")
        return ",".join(part.strip().split("://", 1)[-1] for part in parts if part.strip())


def require_tokens_in_production(broker: BrokerSettings, tokens: dict[str, SecretStr]) -> None:
    """Refuse to start in production while a token guarding a state change is empty.

    ``tokens`` maps each token's environment variable name to its value; the error names
    every empty one and how to start anyway. Raises ``ValueError`` (pydantic reports it
    as a validation error of the settings).
    """
    if broker.environment != "production" or broker.allow_open_endpoints:
        return
    empty = [name for name, token in tokens.items() if not token.get_secret_value()]
    if empty:
        raise ValueError(
            f"MOODSTREAM_ENVIRONMENT=production but {', '.join(empty)} is empty, which "
            "leaves endpoints that change state open to anyone: set it, or set "
            "MOODSTREAM_ALLOW_OPEN_ENDPOINTS=true to start anyway"
        )
