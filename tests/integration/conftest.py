"""Fixtures for integration tests that need one real service process."""

import uuid

import pytest

from moodstream_common import topics
from moodstream_dev.broker import create_topics
from moodstream_dev.processes import local_service


@pytest.fixture(scope="module")
def ingest(broker, tmp_path_factory):
    """The ingest service on its own topics: ``(service, topic_prefix)``."""
    prefix = f"in{uuid.uuid4().hex[:8]}-"
    create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=prefix)
    state = tmp_path_factory.mktemp("ingest")
    service = local_service("ingest", broker, state, topic_prefix=prefix)
    service.start()
    try:
        service.wait_ready(60)
        yield service, prefix
    finally:
        service.stop()
