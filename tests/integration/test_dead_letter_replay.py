"""Dead letters can be inspected and replayed after a fix: a message rejected as too
long is accepted once the limit is raised and its dead letter is replayed."""

import asyncio
import json
import uuid

import httpx
import pytest

from moodstream_common import topics
from moodstream_dev import deadletters
from moodstream_dev.broker import create_topics
from moodstream_dev.processes import ServiceProcess, free_port, service_env
from tests.helpers import eventually, read_topic

pytestmark = pytest.mark.integration


def _raw_ids(bootstrap, topic):
    # Read until quiet: one fetch answers from one broker's partitions at a time.
    return [value["id"] for _key, value in read_topic(bootstrap, topic, quiet=1.0)]


def test_rejected_message_is_accepted_after_fix_and_replay(broker, tmp_path):
    prefix = f"dl{uuid.uuid4().hex[:8]}-"
    create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=prefix)
    port = free_port()

    def ingest(max_chars):
        env = service_env("ingest", broker=broker, port=port, data_dir=tmp_path,
                          topic_prefix=prefix, extra={"INGEST_MAX_TEXT_CHARS": str(max_chars)})
        service = ServiceProcess("ingest", port, env, tmp_path / f"ingest-{max_chars}.log")
        service.start()
        service.wait_ready(60)
        return service

    service = ingest(100)
    try:
        long_text = {"id": "long_1", "type": "update", "text": "x" * 150}
        rejected = httpx.post(f"{service.url}/v1/messages", json=long_text, timeout=10)
        assert rejected.status_code == 400 and rejected.json()["reason"] == "text_too_long"
        ok = httpx.post(f"{service.url}/v1/messages", json={"id": "short_1", "text": "ok"})
        assert ok.status_code == 202
    finally:
        service.stop()

    dead_topic = topics.DEAD_LETTERS.name(prefix)
    entries = eventually(lambda: asyncio.run(deadletters.read_all(broker.bootstrap, dead_topic)),
                         timeout=30)
    assert deadletters.summary(entries)["by_reason"] == {"text_too_long": 1}
    assert json.loads(entries[0].original) == long_text  # the exact bytes were kept

    service = ingest(1_000)  # the fix: a higher limit
    try:
        chosen = list(deadletters.select(entries, reason="text_too_long", source="http"))
        sent = asyncio.run(deadletters.replay(broker.bootstrap, chosen,
                                              topics.EVENTS.name(prefix), progress=False))
        assert sent == 1
        ids = eventually(
            lambda: (found := _raw_ids(broker.bootstrap, topics.RAW.name(prefix)))
            and "long_1" in found and found, timeout=30)
        assert sorted(ids) == ["long_1", "short_1"]
    finally:
        service.stop()
