"""Topic names and partition counts: the one place they are defined.

Every service asks :func:`topic_name` for the physical name, so a deployment (or a
test) can put all topics behind a prefix without touching service code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    """A logical topic: its base name and the partition count it is created with."""

    base: str
    partitions: int
    description: str

    def name(self, prefix: str = "") -> str:
        """Physical topic name for a deployment using ``prefix``."""
        return topic_name(self.base, prefix)


def topic_name(base: str, prefix: str = "") -> str:
    """Join a prefix and a base name: ``("t1-", "raw") -> "t1-raw"``."""
    return f"{prefix}{base}"


# Partition counts: raw and scored are keyed by message id and share a count so the
# analyzer keeps per-message order; 4 gives room for a few workers on a small host.
EVENTS = TopicSpec("events", 4, "input: JSON events from any Kafka producer")
RAW = TopicSpec("raw", 4, "validated, normalized messages keyed by message id")
SCORED = TopicSpec("scored", 4, "raw records plus sentiment, hashtags and mentions")
AGGREGATES = TopicSpec("aggregates", 1, "aggregate snapshots for downstream consumers")
DEAD_LETTERS = TopicSpec("dead-letters", 1, "rejected input with the reason and original bytes")
# One partition each: the rules are evaluated in one place, so an episode fires once.
ALERTS = TopicSpec("alerts", 1, "alert episodes: a record when each fires and when it resolves")
ALERT_CHECKS = TopicSpec("alert-checks", 1, "aggregator-internal: aggregates changed, check rules")

ALL_TOPICS: tuple[TopicSpec, ...] = (
    EVENTS, RAW, SCORED, AGGREGATES, DEAD_LETTERS, ALERTS, ALERT_CHECKS
)
