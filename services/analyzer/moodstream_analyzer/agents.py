"""Analyzer agents.

Reads: ``raw`` (:class:`RawMessage`, keyed by message id).
Writes: ``scored`` (:class:`ScoredMessage`, same key, so per-message order holds).

Records are batched with ``take_events`` and scored in model calls on a single
executor thread, so the event loop keeps heartbeating (and traces and sends the
finished calls' records) while the model runs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from faust import StreamT
from faust.types import EventT
from opentelemetry.context import Context

from moodstream_analyzer.app import app, raw_topic, scored_topic, settings
from moodstream_analyzer.delivery import OrderedPublisher
from moodstream_analyzer.model import ModelUnavailable, SentimentModel, load_model
from moodstream_analyzer.scoring import score_batch
from moodstream_common.metrics import BATCH_SIZE, MESSAGES_IN, MESSAGES_OUT, MODEL_LATENCY
from moodstream_common.records import RawMessage, ScoredMessage
from moodstream_common.tracing import batch_links, child_span_headers, extract_context, tracer

log = logging.getLogger("moodstream.analyzer")
SERVICE = "analyzer"

# One thread: the model parallelises inside a call; two calls at once would fight for cores.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
_model: SentimentModel | None = None
_model_error: str | None = None
_load_attempts = 0


def loaded_model() -> SentimentModel | None:
    """The model if it has finished loading, else ``None``."""
    return _model


def model_error() -> str | None:
    """Why the model directory cannot be served right now (path and fix), else ``None``."""
    return _model_error


def load_attempts() -> int:
    """How often loading the model has been tried since the worker started."""
    return _load_attempts


async def model() -> SentimentModel:
    """The loaded model (loaded once, off the event loop).

    While the directory cannot be served (missing, partial, corrupt) this waits and
    tries again every ``model_retry_seconds``: the service stays up, ``/readyz`` says
    why, nothing is consumed, and the error is logged once, not once per try. A fixed
    directory (``make model``) is picked up without a restart.
    """
    global _model, _model_error, _load_attempts
    loop = asyncio.get_running_loop()
    load = functools.partial(
        load_model,
        settings.model_path,
        backend=settings.backend,
        threads=settings.model_threads,
        mini_batch_size=settings.batch_size,
        token_budget=settings.token_budget,
    )
    while _model is None:
        _load_attempts += 1
        try:
            loaded = await loop.run_in_executor(_executor, load)
        except ModelUnavailable as exc:
            if str(exc) != _model_error:
                log.error("model unavailable, not scoring until it is fixed: %s", exc)
            _model_error = str(exc)
            await asyncio.sleep(settings.model_retry_seconds)
            continue
        _model, _model_error = loaded, None
        log.info("model %s %s loaded (%s backend)", loaded.name, loaded.version, settings.backend)
    return _model


@app.agent(raw_topic, concurrency=1)
async def score(stream: StreamT[RawMessage]) -> AsyncIterator[int]:
    """Score raw records in batches and publish them to ``scored``; yields batch sizes.

    A batch of up to ``stream_batch_size`` records is scored in model calls of
    ``batch_size``, all queued on the model thread at once so each starts the moment
    the previous one ends. Each call's records are sent as soon as it is done, so their
    broker round trips overlap the next call, and the batch ends only when the broker
    has acknowledged all of them (:class:`OrderedPublisher`).
    """
    sentiment_model = await model()
    loop = asyncio.get_running_loop()
    async for events in stream.take_events(  # type: ignore[attr-defined]  # Stream has it; StreamT lacks it
        settings.stream_batch_size, within=settings.batch_within_seconds
    ):
        chunks = [
            events[start : start + settings.batch_size]
            for start in range(0, len(events), settings.batch_size)
        ]
        calls = [
            loop.run_in_executor(_executor, _timed_score, sentiment_model, chunk)
            for chunk in chunks
        ]
        parents = [extract_context(event.message.headers) for event in events]
        publisher: OrderedPublisher[tuple[ScoredMessage, dict[str, bytes]]] = OrderedPublisher(
            lambda item: scored_topic.send(key=item[0].id, value=item[0], headers=item[1])
        )
        with tracer().start_as_current_span(
            "moodstream.analyzer.batch", links=batch_links(parents)
        ) as span:
            span.set_attribute("moodstream.batch_size", len(events))
            MESSAGES_IN.labels(SERVICE, raw_topic.get_topic_name()).inc(len(events))
            offset = 0
            for chunk, call in zip(chunks, calls, strict=True):
                scored, seconds = await call
                BATCH_SIZE.labels(SERVICE).observe(len(chunk))
                MODEL_LATENCY.labels(SERVICE).observe(seconds)
                chunk_parents, offset = parents[offset : offset + len(chunk)], offset + len(chunk)
                await publisher.send(_with_score_spans(chunk_parents, scored))
        # Every record on the broker before the batch's offsets can be committed.
        await publisher.settle()
        MESSAGES_OUT.labels(SERVICE, scored_topic.get_topic_name()).inc(len(events))
        yield len(events)


def _timed_score(
    sentiment_model: SentimentModel, events: Sequence[EventT[Any]]
) -> tuple[list[ScoredMessage], float]:
    """Score the events' records (on the model thread); also how long the call took."""
    started = time.perf_counter()
    scored = score_batch(sentiment_model, [cast(RawMessage, event.value) for event in events])
    return scored, time.perf_counter() - started


def _with_score_spans(
    parents: Sequence[Context], scored: Sequence[ScoredMessage]
) -> list[tuple[ScoredMessage, dict[str, bytes]]]:
    """Each scored record with headers carrying its own span, a child of its raw record's."""
    return [
        (
            record,
            child_span_headers(
                "moodstream.analyzer.score",
                parent,
                {"moodstream.message_id": record.id, "moodstream.label": record.label or ""},
            ),
        )
        for parent, record in zip(parents, scored, strict=True)
    ]
