"""The ingest service's Faust app and the topics it reads and writes."""

from __future__ import annotations

from moodstream_common import topics
from moodstream_common.faust_app import make_app
from moodstream_common.records import DeadLetter, RawMessage
from moodstream_ingest import settings as settings_module

settings = settings_module.load()
# Linger 1 ms, not the shared 10: both doors wait for a batch's acknowledgements before
# taking the next (HTTP: before answering), so a linger is paid once a batch as idle
# time, and a batch of hundreds of records fills its produce requests without one. The
# topic door ran 1.16-1.18x as fast with 1 ms as with 10 (bench.ingest_throughput).
app = make_app(
    "ingest",
    settings.broker,
    web_port=settings.web_port,
    web_host=settings.web_host,
    producer_linger_ms=1,
)

# Input events arrive as bytes from any producer: decode them ourselves so bad bytes
# become dead letters instead of crashing Faust's deserializer.
events_topic = app.topic(
    settings.broker.topic(topics.EVENTS),
    partitions=topics.EVENTS.partitions,
    key_serializer="raw",
    value_serializer="raw",
)
raw_topic = app.topic(
    settings.broker.topic(topics.RAW),
    partitions=topics.RAW.partitions,
    key_type=str,
    value_type=RawMessage,
)
dead_letter_topic = app.topic(
    settings.broker.topic(topics.DEAD_LETTERS),
    partitions=topics.DEAD_LETTERS.partitions,
    value_type=DeadLetter,
)
