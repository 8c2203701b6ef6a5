"""The language worker: a real child process answers what inline detection does, and a
child that dies, hangs or is not up yet never costs a message its language."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys

import pytest

from moodstream_ingest.language import detect
from moodstream_ingest.language_worker import READY, LanguageWorker
from tests.corpus.languages import SENTENCES, SHORT, UNDETERMINED

SAMPLE = [
    *(text for texts in SENTENCES.values() for text in texts),
    *(text for texts in SHORT.values() for text in texts),
    *UNDETERMINED,
    # Texts that must stay one line and one text each on the way through the pipe.
    "first line\nsecond line, still English",
    "a lone surrogate \ud800 in an English sentence",
    "",
    "Long English text about a refund and a broken order. " * 200,
    "Z̷̢̛a̶l̵g̸o̶ text is still a text 😀" * 20,
]


def inline(texts: list[str]) -> list[tuple[str, float]]:
    return [tuple(detect(text)) for text in texts]


async def wait_until(condition, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_the_child_answers_what_inline_detection_does(caplog):
    worker = LanguageWorker(min_batch=1)
    await worker.start()
    try:
        assert worker.running
        found = await worker.detect_many(SAMPLE)
        assert [tuple(d) for d in found] == inline(SAMPLE)
        assert {d.language for d in found} >= {"en", "fr", "es", "de", "ko", "ja", "und"}
        # The child answered every chunk, the one with a lone surrogate too (it goes as
        # ASCII JSON), rather than failing over to inline detection.
        assert worker.running
        assert "language worker failed" not in caplog.text
    finally:
        await worker.stop()
    assert not worker.running


async def test_concurrent_batches_each_get_their_own_answers():
    worker = LanguageWorker(min_batch=1)
    await worker.start()
    try:
        batches = [SENTENCES[language] * 5 for language in ("en", "fr", "de", "ko")]
        results = await asyncio.gather(*(worker.detect_many(batch) for batch in batches))
        for batch, found in zip(batches, results, strict=True):
            assert [tuple(d) for d in found] == inline(batch)
    finally:
        await worker.stop()


async def test_a_small_batch_is_detected_inline_without_a_child():
    worker = LanguageWorker(min_batch=32)
    texts = SENTENCES["fr"]
    assert [tuple(d) for d in await worker.detect_many(texts)] == inline(texts)
    assert not worker.running


async def test_a_batch_before_the_child_is_up_is_detected_inline_and_starts_it():
    worker = LanguageWorker(min_batch=1)
    texts = SENTENCES["es"]
    try:
        assert [tuple(d) for d in await worker.detect_many(texts)] == inline(texts)
        await wait_until(lambda: worker.running)
    finally:
        await worker.stop()


async def test_a_killed_child_costs_no_language_and_is_started_again():
    worker = LanguageWorker(min_batch=1)
    await worker.start()
    try:
        first_pid = worker._child.process.pid
        os.kill(first_pid, signal.SIGKILL)
        await worker._child.process.wait()
        texts = SENTENCES["de"] + SENTENCES["ja"]
        assert [tuple(d) for d in await worker.detect_many(texts)] == inline(texts)
        assert [tuple(d) for d in await worker.detect_many(texts)] == inline(texts)
        await wait_until(lambda: worker.running)
        assert worker._child.process.pid != first_pid
        assert [tuple(d) for d in await worker.detect_many(texts)] == inline(texts)
    finally:
        await worker.stop()


async def test_a_child_that_hangs_is_replaced_and_the_batch_detected_inline(caplog):
    worker = LanguageWorker(min_batch=1, timeout_seconds=0.5)
    await worker.start()
    try:
        hung = worker._child.process
        os.kill(hung.pid, signal.SIGSTOP)
        texts = SENTENCES["it"] * 3
        with caplog.at_level(logging.WARNING, logger="moodstream.ingest.language"):
            assert [tuple(d) for d in await worker.detect_many(texts)] == inline(texts)
        assert "language worker failed (no answer in 0.5 s)" in caplog.text
        assert await asyncio.wait_for(hung.wait(), 10) == -signal.SIGKILL
    finally:
        await worker.stop()


def test_the_child_exits_when_its_stdin_closes():
    # What keeps it from outliving an ingest that was SIGKILLed: the pipe closes.
    child = subprocess.Popen(
        [sys.executable, "-m", "moodstream_ingest.language_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout.readline() == READY
        child.stdin.write(b'["Merci beaucoup pour votre aide rapide"]\n')
        child.stdin.flush()
        assert child.stdout.readline().startswith(b'[["fr",')
        child.stdin.close()
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.kill()


@pytest.mark.parametrize("min_batch", [0, -1])
def test_the_setting_refuses_a_minimum_below_one(monkeypatch, min_batch):
    from pydantic import ValidationError

    from moodstream_ingest.settings import Settings

    monkeypatch.setenv("INGEST_LANGUAGE_WORKER_MIN_BATCH", str(min_batch))
    with pytest.raises(ValidationError):
        Settings()
