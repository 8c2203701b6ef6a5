"""The one way services build their ``faust.App``.

Keeps the settings every service shares (broker, security, state directory, app id,
broker-specific timeouts) in one place, so the three services differ only in what
they do, not in how they connect.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import faust
from faust.auth import SASLCredentials

from moodstream_common import broker_compat, changelog_guard, faust_fixes
from moodstream_common.settings import BrokerSettings


def broker_credentials(settings: BrokerSettings) -> Any:
    """Faust credentials for SASL/TLS brokers, or ``None`` for plaintext."""
    protocol = settings.broker_security_protocol.upper()
    if protocol == "PLAINTEXT":
        return None
    ssl_context = ssl.create_default_context() if protocol.endswith("SSL") else None
    if protocol.startswith("SASL"):
        return SASLCredentials(
            username=settings.broker_sasl_username,
            password=settings.broker_sasl_password.get_secret_value(),
            mechanism=settings.broker_sasl_mechanism,
            ssl_context=ssl_context,
        )
    return faust.SSLCredentials(ssl_context)


def client_settings(settings: BrokerSettings) -> dict[str, Any]:
    """Keyword arguments that connect a plain aiokafka client (consumer, producer, admin)
    to the same broker, with the same security, as the service's Faust app."""
    protocol = settings.broker_security_protocol.upper()
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": protocol,
    }
    if protocol.endswith("SSL"):
        options["ssl_context"] = ssl.create_default_context()
    if protocol.startswith("SASL"):
        options.update(
            sasl_mechanism=settings.broker_sasl_mechanism,
            sasl_plain_username=settings.broker_sasl_username,
            sasl_plain_password=settings.broker_sasl_password.get_secret_value(),
        )
    return options


def group_settings(settings: BrokerSettings) -> dict[str, Any]:
    """Keyword arguments for a plain aiokafka consumer in a group: the session timeout
    asked for (heartbeats a third of it), then the embedded broker's own settings."""
    options: dict[str, Any] = {}
    if settings.broker_session_timeout is not None:
        options.update(
            session_timeout_ms=int(settings.broker_session_timeout * 1000),
            heartbeat_interval_ms=int(min(3.0, settings.broker_session_timeout / 3) * 1000),
        )
    options.update(broker_compat.consumer_settings(settings.broker_flavor))
    return options


def make_app(
    service: str,
    settings: BrokerSettings,
    *,
    web_port: int,
    web_host: str = "127.0.0.1",
    store: str = "rocksdb://",
    **overrides: Any,
) -> faust.App:
    """Create the ``faust.App`` for ``service`` with the shared settings applied.

    ``overrides`` are passed to ``faust.App`` last, so a service can change any value.
    """
    broker_compat.apply(settings.broker_flavor)
    changelog_guard.install()
    faust_fixes.install()
    options: dict[str, Any] = {
        "broker": settings.broker_url,
        "broker_credentials": broker_credentials(settings),
        "store": store,
        "datadir": str(settings.data_dir / service),
        "web_port": web_port,
        "web_host": web_host,
        "web_bind": web_host,
        "topic_replication_factor": settings.topic_replication_factor,
        # At-least-once: the broker must have the record before the source offset is
        # committed (and, on Kafka, the producer is idempotent: see below).
        "producer_acks": -1,
        # Wait up to 10 ms to fill a produce request: an aggregator batch sends a
        # changelog record per changed key, and one request per record cost more CPU
        # than the records themselves (bench.aggregator_throughput).
        "producer_linger_ms": 10,
        "autodiscover": False,
        "origin": f"moodstream_{service}",
    }
    if settings.broker_session_timeout is not None:
        options.update(
            broker_session_timeout=settings.broker_session_timeout,
            broker_heartbeat_interval=min(3.0, settings.broker_session_timeout / 3),
        )
    options.update(broker_compat.faust_settings(settings.broker_flavor))
    options.update(overrides)
    app = faust.App(settings.app_id(service), **options)
    if settings.broker_idempotent_producer and not broker_compat.needs_workarounds(
        settings.broker_flavor
    ):
        _make_producer_idempotent(app)
    if broker_compat.needs_workarounds(settings.broker_flavor):
        broker_compat.on_log_truncated(broker_compat.forget_partition_in(app))
        broker_compat.on_log_truncated(changelog_guard.discard_on_truncation(app))
        changelog_guard.prove_truncation_with(
            app,
            changelog_guard.BrokerIdentity(Path(app.conf.tabledir), settings.bootstrap_servers),
        )
    return app


def _make_producer_idempotent(app: faust.App) -> None:
    """Have Faust's producer (created lazily, on first use) enable idempotence.

    Faust turns it on only inside its ``exactly_once`` transactions and has no setting for
    it; its aiokafka producer takes extra arguments from ``_settings_extra``, so this app's
    producer gets its own. A send aiokafka retries after a lost answer is then written once
    per partition, not twice.
    """
    create = app._new_producer

    def _idempotent_producer() -> Any:
        producer: Any = create()  # the aiokafka driver's Producer, not only ProducerT
        extra = producer._settings_extra

        def _settings_extra() -> dict[str, Any]:
            return {**extra(), "acks": "all", "enable_idempotence": True}

        producer._settings_extra = _settings_extra
        return producer

    app._new_producer = _idempotent_producer  # type: ignore[method-assign]  # per app, not Faust's class


async def send_direct(
    app: faust.App, topic: Any, key: Any, value: Any, headers: dict[str, bytes]
) -> Awaitable[Any]:
    """Send one record to ``topic`` with its own serializers, straight to the producer.

    Returns the delivery future, as ``Topic.send`` does. Topic.send's promise and sensor
    bookkeeping per record cost as much as the send itself (bench.ingest_throughput), and
    the services await every delivery themselves before committing, so they skip it.
    ``topic`` is Any because Faust's ChannelT stub leaves out the headers argument Faust
    itself passes to these methods.
    """
    open_headers = topic.prepare_headers(headers)
    key_bytes, open_headers = topic.prepare_key(key, None, None, open_headers)
    value_bytes, open_headers = topic.prepare_value(value, None, None, open_headers)
    delivery: Awaitable[Any] = await app.producer.send(
        topic.get_topic_name(), key_bytes, value_bytes, None, None, open_headers
    )
    return delivery
