"""Analyzer agents.

Reads: ``raw`` (:class:`RawMessage`, keyed by message id).
Writes: ``scored`` (:class:`ScoredMessage`, same key, so per-message order holds).

Records are batched with ``take_events`` and scored in one model call on a single
executor thread, so the event loop keeps heartbeating while the model runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from faust import StreamT
from opentelemetry import trace

from moodstream_analyzer.app import app, raw_topic, scored_topic, settings
from moodstream_analyzer.delivery import publish_in_order
from moodstream_analyzer.model import SentimentModel, load_model
from moodstream_analyzer.scoring import score_batch
from moodstream_common.metrics import BATCH_SIZE, MESSAGES_IN, MESSAGES_OUT, MODEL_LATENCY
from moodstream_common.records import RawMessage
from moodstream_common.tracing import extract_context, inject_headers, tracer

log = logging.getLogger("moodstream.analyzer")
SERVICE = "analyzer"

# One thread: torch parallelises inside a call; two calls at once would fight for cores.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
_model: SentimentModel | None = None


def loaded_model() -> SentimentModel | None:
    """The model if it has finished loading, else ``None``."""
    return _model


async def model() -> SentimentModel:
    """The loaded model (loaded once, off the event loop)."""
    global _model
    if _model is None:
        loop = asyncio.get_running_loop()
        _model = await loop.run_in_executor(
            _executor,
            load_model,
            settings.model_path,
            settings.torch_threads,
            settings.batch_size,
            settings.token_budget,
        )
        log.info("model %s %s loaded", _model.name, _model.version)
    return _model


@app.agent(raw_topic, concurrency=1)
async def score(stream: StreamT[RawMessage]) -> AsyncIterator[int]:
    """Score raw records in batches and publish them to ``scored``; yields batch sizes."""
    sentiment_model = await model()
    loop = asyncio.get_running_loop()
    async for events in stream.take_events(  # type: ignore[attr-defined]  # Stream has it; StreamT lacks it
        settings.batch_size, within=settings.batch_within_seconds
    ):
        records = [event.value for event in events]
        links = [
            trace.Link(trace.get_current_span(extract_context(e.message.headers)).get_span_context())
            for e in events
        ]
        with tracer().start_as_current_span("moodstream.analyzer.batch", links=links) as span:
            span.set_attribute("moodstream.batch_size", len(records))
            MESSAGES_IN.labels(SERVICE, raw_topic.get_topic_name()).inc(len(records))
            BATCH_SIZE.labels(SERVICE).observe(len(records))
            started = time.perf_counter()
            scored = await loop.run_in_executor(
                _executor, score_batch, sentiment_model, records
            )
            MODEL_LATENCY.labels(SERVICE).observe(time.perf_counter() - started)
        outgoing = []  # (record, headers carrying its score span)
        for event, record in zip(events, scored, strict=True):
            parent = extract_context(event.message.headers)
            with tracer().start_as_current_span(
                "moodstream.analyzer.score", context=parent
            ) as span:
                span.set_attribute("moodstream.message_id", record.id)
                span.set_attribute("moodstream.label", record.label or "")
                outgoing.append((record, inject_headers()))
        # Every record on the broker before the batch's offsets can be committed.
        await publish_in_order(
            lambda item: scored_topic.send(key=item[0].id, value=item[0], headers=item[1]),
            outgoing,
        )
        MESSAGES_OUT.labels(SERVICE, scored_topic.get_topic_name()).inc(len(scored))
        yield len(records)
