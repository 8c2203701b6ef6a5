"""An analyzer whose model directory is missing, then partial, then whole: it stays up,
says why on /readyz, logs each problem once, consumes nothing, and scores everything
once the directory is fixed, without a restart."""

from __future__ import annotations

import asyncio
import shutil
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from moodstream_common import topics
from moodstream_common.records import EVENT_UPDATE, RawMessage
from moodstream_dev.broker import create_topics
from moodstream_dev.processes import ServiceProcess, free_port, service_env
from tests.e2e.conftest import MODEL_PATH
from tests.helpers import eventually, read_topic

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

COUNT = 40


def _readiness(service: ServiceProcess) -> tuple[int, dict]:
    response = httpx.get(f"{service.url}/readyz", timeout=2)
    return response.status_code, response.json()


def _error_after(service: ServiceProcess, attempts: int, needle: str) -> dict | None:
    """The readiness body once a load attempt after ``attempts`` failed with ``needle``."""
    try:
        status, body = _readiness(service)
    except httpx.HTTPError:
        return None
    if body["model_load_attempts"] > attempts and needle in (body["model_error"] or ""):
        assert status == 503
        return body
    return None


async def _produce(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(COUNT):
            record = RawMessage(id=f"mf{i}", type=EVENT_UPDATE, event_time=1.0e9 + i,
                                received_at=1.0e9 + i, text=f"thanks, great help #{i}")
            await producer.send_and_wait(topic, record.dumps(), key=record.id.encode())
    finally:
        await producer.stop()


def test_analyzer_waits_for_a_model_and_then_scores_everything(broker, tmp_path):
    prefix = f"mf{uuid.uuid4().hex[:8]}-"
    create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=prefix)
    model_dir = tmp_path / "model"
    port = free_port()
    env = service_env(
        "analyzer", broker=broker, port=port, data_dir=tmp_path / "state",
        topic_prefix=prefix,
        extra={"ANALYZER_MODEL_PATH": str(model_dir), "ANALYZER_MODEL_RETRY_SECONDS": "0.5"},
    )
    analyzer = ServiceProcess("analyzer", port, env, tmp_path / "analyzer.log")
    analyzer.start()
    try:
        missing = eventually(lambda: _error_after(analyzer, 0, "not found"), timeout=90)
        assert str(model_dir / "metadata.json") in missing["model_error"]
        assert "make model" in missing["model_error"]
        assert httpx.get(f"{analyzer.url}/healthz").json()["model_loaded"] is False
        asyncio.run(_produce(broker.bootstrap, topics.RAW.name(prefix)))

        # A partial copy (everything but a whole model.onnx), put in place in one rename
        # so that the analyzer sees no state in between.
        staging = tmp_path / "staging"
        staging.mkdir()
        for name in ("metadata.json", "tokenizer.json"):
            shutil.copy(MODEL_PATH / name, staging / name)
        (staging / "model.onnx").write_bytes((MODEL_PATH / "model.onnx").read_bytes()[:4096])
        staging.rename(model_dir)
        partial = eventually(lambda: _error_after(analyzer, 0, "SHA-256"), timeout=30)
        assert str(model_dir / "model.onnx") in partial["model_error"]
        # Tried again and again with the same answer, still up and never scoring.
        eventually(lambda: _error_after(analyzer, partial["model_load_attempts"] + 3, "SHA-256"),
                   timeout=30)
        assert analyzer.running
        assert read_topic(broker.bootstrap, topics.SCORED.name(prefix), quiet=1.0) == []
        # Each problem logged once, however often it was tried.
        log = analyzer.log_path.read_text()
        assert log.count("model unavailable") == 2, log[-3000:]

        shutil.copy(MODEL_PATH / "model.onnx", tmp_path / "model.onnx")
        (tmp_path / "model.onnx").replace(model_dir / "model.onnx")
        analyzer.wait_ready(60)
        scored = eventually(
            lambda: (lambda rows: rows if len(rows) >= COUNT else None)(
                read_topic(broker.bootstrap, topics.SCORED.name(prefix), quiet=1.0)),
            timeout=60)
        assert sorted(value["id"] for _key, value in scored) == sorted(f"mf{i}" for i in range(COUNT))
        assert {value["label"] for _key, value in scored} <= {"positive", "neutral", "negative"}
        status, body = _readiness(analyzer)
        assert status == 200 and body["model_error"] is None
    finally:
        analyzer.stop()
