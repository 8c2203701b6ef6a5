"""The aggregator service's Faust app and the topics it reads and writes."""

from __future__ import annotations

from moodstream_aggregator import settings as settings_module
from moodstream_common import topics
from moodstream_common.faust_app import make_app
from moodstream_common.records import AggregateUpdate, Alert, AlertCheck, ScoredMessage

settings = settings_module.load()
app = make_app(
    "aggregator",
    settings.broker,
    web_port=settings.web_port,
    web_host=settings.web_host,
    store=settings.store,
    **({"canonical_url": settings.advertised_url} if settings.advertised_url else {}),
)

scored_topic = app.topic(
    settings.broker.topic(topics.SCORED),
    partitions=topics.SCORED.partitions,
    key_type=str,
    value_type=ScoredMessage,
)
aggregates_topic = app.topic(
    settings.broker.topic(topics.AGGREGATES),
    partitions=topics.AGGREGATES.partitions,
    key_type=str,
    value_type=AggregateUpdate,
)
alerts_topic = app.topic(
    settings.broker.topic(topics.ALERTS),
    partitions=topics.ALERTS.partitions,
    key_type=str,
    value_type=Alert,
)
alert_checks_topic = app.topic(
    settings.broker.topic(topics.ALERT_CHECKS),
    partitions=topics.ALERT_CHECKS.partitions,
    value_type=AlertCheck,
)
