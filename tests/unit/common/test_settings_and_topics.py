"""Shared settings and topic naming."""

from moodstream_common import topics
from moodstream_common.settings import BrokerSettings


def test_topic_names_follow_the_prefix():
    settings = BrokerSettings(topic_prefix="t1-")
    assert settings.topic(topics.RAW) == "t1-raw"
    assert settings.app_id("analyzer") == "t1-moodstream-analyzer"
    # Ingest and the analyzer read their input outside Faust, in groups of their own.
    assert settings.input_group("ingest") == "t1-moodstream-ingest-events"
    assert settings.input_group("analyzer") == "t1-moodstream-analyzer-raw"
    assert settings.input_group("aggregator") == "t1-moodstream-aggregator"


def test_topic_names_are_unique_and_partition_counts_positive():
    names = [spec.base for spec in topics.ALL_TOPICS]
    assert len(names) == len(set(names))
    assert all(spec.partitions >= 1 for spec in topics.ALL_TOPICS)


def test_raw_and_scored_share_partition_count():
    # The analyzer keeps message order by using the same key and partition count.
    assert topics.RAW.partitions == topics.SCORED.partitions


def test_bootstrap_servers_strip_scheme(monkeypatch):
    monkeypatch.setenv("MOODSTREAM_BROKER_URL", "kafka://a:9092,kafka://b:9093")
    assert BrokerSettings().bootstrap_servers == "a:9092,b:9093"


def test_secret_is_not_in_repr(monkeypatch):
    monkeypatch.setenv("MOODSTREAM_BROKER_SASL_PASSWORD", "hunter2")
    settings = BrokerSettings()
    assert "hunter2" not in repr(settings)
    assert settings.broker_sasl_password.get_secret_value() == "hunter2"
