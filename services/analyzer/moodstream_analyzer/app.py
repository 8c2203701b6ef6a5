"""The analyzer service's Faust app and the topics it reads and writes."""

from __future__ import annotations

from moodstream_analyzer import settings as settings_module
from moodstream_common import topics
from moodstream_common.faust_app import make_app
from moodstream_common.records import DeadLetter, RawMessage, ScoredMessage

settings = settings_module.load()
app = make_app(
    "analyzer",
    settings.broker,
    web_port=settings.web_port,
    web_host=settings.web_host,
    # The analyzer keeps no tables: no local store to recover.
    store="memory://",
)

raw_topic = app.topic(
    settings.broker.topic(topics.RAW),
    partitions=topics.RAW.partitions,
    key_type=str,
    value_type=RawMessage,
)
scored_topic = app.topic(
    settings.broker.topic(topics.SCORED),
    partitions=topics.SCORED.partitions,
    key_type=str,
    value_type=ScoredMessage,
)
dead_letter_topic = app.topic(
    settings.broker.topic(topics.DEAD_LETTERS),
    partitions=topics.DEAD_LETTERS.partitions,
    value_type=DeadLetter,
)
