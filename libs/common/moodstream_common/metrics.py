"""Prometheus metrics shared by the services, and the ``/metrics`` page.

One registry per process; metric names are ``moodstream_*`` with a ``service`` label
so one dashboard query covers all three services.
"""

from __future__ import annotations

import logging

import faust
from faust.web import Request, Response, View
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from moodstream_common.input_batches import running_readers

log = logging.getLogger("moodstream.metrics")
REGISTRY = CollectorRegistry()

MESSAGES_IN = Counter(
    "moodstream_messages_in", "Records or requests taken in", ["service", "source"],
    registry=REGISTRY,
)
MESSAGES_OUT = Counter(
    "moodstream_messages_out", "Records written downstream", ["service", "topic"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "moodstream_dead_letters", "Inputs sent to the dead-letter topic", ["service", "reason"],
    registry=REGISTRY,
)
ALERTS = Counter(
    "moodstream_alerts", "Alert episodes published, by rule and state (firing, resolved)",
    ["rule", "state"], registry=REGISTRY,
)
ALERT_WEBHOOK_FAILURES = Counter(
    "moodstream_alert_webhook_failures",
    "Alert records the webhook did not take after every attempt", registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "moodstream_batch_size", "Records per processed batch", ["service"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), registry=REGISTRY,
)
MODEL_LATENCY = Histogram(
    "moodstream_model_latency_seconds", "Seconds per model call (one batch)", ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "moodstream_consumer_lag", "Records behind the high watermark", ["service", "topic",
    "partition"], registry=REGISTRY,
)


async def _refresh_lag(app: faust.App, service: str) -> None:
    """Set the lag gauge from the consumers' positions and high watermarks (Faust's and
    the input readers', :mod:`moodstream_common.input_batches`)."""
    CONSUMER_LAG.clear()
    consumer = app.consumer
    for tp in consumer.assignment():
        if tp.topic.endswith("-changelog") or "__assignor" in tp.topic:
            continue
        position = await consumer.position(tp)
        highwater = consumer.highwater(tp)
        if position is None or highwater is None:
            continue
        CONSUMER_LAG.labels(service, tp.topic, str(tp.partition)).set(max(0, highwater - position))
    for reader in running_readers():
        for tp, lag in (await reader.lag()).items():
            CONSUMER_LAG.labels(service, tp.topic, str(tp.partition)).set(lag)


def register_metrics_page(app: faust.App, service: str) -> None:
    """Serve ``GET /metrics`` (Prometheus text format) on ``app``'s web server."""

    @app.page("/metrics")
    class Metrics(View):
        """Prometheus scrape endpoint."""

        async def get(self, request: Request) -> Response:
            """Current values, lag refreshed at scrape time."""
            try:
                await _refresh_lag(app, service)
            except Exception as exc:  # noqa: BLE001  lag is best effort while rebalancing
                log.debug("lag not refreshed: %r", exc)
            # aiohttp takes the charset separately, so the exposition type goes without it.
            return self.text(
                generate_latest(REGISTRY).decode("utf-8"),
                content_type=CONTENT_TYPE_LATEST.split(";")[0] + "; version=0.0.4",
            )
