"""A service started before its broker waits (with a clear log line) instead of
crashing, and becomes ready once the broker is there."""

import pytest

from moodstream_common import topics
from moodstream_dev.broker import EmbeddedBroker, create_topics, free_port
from moodstream_dev.processes import ServiceProcess, service_env
from tests.helpers import eventually

pytestmark = pytest.mark.integration


def test_ingest_started_before_the_broker_waits_then_runs(tmp_path):
    broker_port, web_port = free_port(), free_port()
    late_broker = EmbeddedBroker(port=broker_port, log_path=tmp_path / "broker.log")
    env = service_env("ingest", broker=late_broker, port=web_port, data_dir=tmp_path)
    service = ServiceProcess("ingest", web_port, env, tmp_path / "ingest.log")
    service.start()
    try:
        # Still there after a second try: it waits, it does not crash-loop.
        eventually(
            lambda: service.process.poll() is not None
            or "(try 2); retrying in" in service.log_path.read_text(),
            timeout=60,
        )
        assert service.process.poll() is None, "the service exited instead of waiting"
        assert "broker not reachable" in service.log_path.read_text()
        with late_broker as broker:
            create_topics(broker.bootstrap, topics.ALL_TOPICS)
            waited = service.wait_ready(60)
            print(f"ready {waited:.1f}s after the broker came up")
            assert "is reachable" in service.log_path.read_text()
            service.stop()
    finally:
        service.stop()
