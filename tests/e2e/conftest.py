"""The three services as real processes on the session's embedded broker."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from moodstream_common import topics
from moodstream_dev.broker import create_topics
from moodstream_dev.processes import SERVICES, ServiceProcess, free_port, service_env

MODEL_PATH = Path(os.environ.get("ANALYZER_MODEL_PATH", "models/sentiment-flair-v1")).resolve()


@pytest.fixture(scope="module")
def stack_prefix():
    """Topic and group prefix of this module's stack."""
    return f"e2e{uuid.uuid4().hex[:8]}-"


@pytest.fixture(scope="module")
def stack(broker, tmp_path_factory, stack_prefix):
    """ingest, analyzer and aggregator started on unique topics; stopped afterwards."""
    prefix = stack_prefix
    state = tmp_path_factory.mktemp("stack")
    create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=prefix)
    services = {}
    for name in SERVICES:
        port = free_port()
        env = service_env(
            name,
            broker_url=broker.url,
            port=port,
            data_dir=state / "state",
            topic_prefix=prefix,
            extra={
                "ANALYZER_MODEL_PATH": str(MODEL_PATH),
                "MOODSTREAM_TRACE_FILE": str(state / f"traces-{name}.jsonl"),
            },
        )
        services[name] = ServiceProcess(name, port, env, state / "log" / f"{name}.log")
    try:
        for service in services.values():
            service.start()
        for service in services.values():
            service.wait_ready(timeout=90)
        yield services
    finally:
        for service in services.values():
            service.stop()
