"""Language detection in a child process, beside ingest's event loop.

fastText's ``predict`` holds the GIL (about 8 µs a tweet, README "Languages"), so a thread
cannot take it off the event loop; a process can. Ingest writes each chunk of a batch's
texts (:data:`CHUNK_TEXTS`) to the child as one line of JSON the moment the chunk is
validated, without waiting, and reads the chunk's languages back, in the same order,
just before sending its records. The child detects a chunk while ingest validates and
sends the others, so neither door waits for detection on a machine with a core to
spare. The CPU time is the same; it moves to another core.

``python -m moodstream_ingest.language_worker`` is the child. It exits when its stdin
closes, so it never outlives ingest, however ingest stops (a SIGKILL included).

Detection is enrichment and never holds a message back. A batch smaller than
``min_batch`` (a round trip costs more than detecting a few texts), a chunk submitted
while the child is starting, and a chunk the child fails on or answers late
(``timeout_seconds``) are detected inline (:func:`detect_inline`); a failed child is
killed and a new one started for later chunks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections import deque
from collections.abc import Sequence

import orjson

from moodstream_ingest.language import Detected, detect, load

log = logging.getLogger("moodstream.ingest.language")

CHUNK_TEXTS = 64
"""Texts per request: a batch goes in chunks, so the child detects the next chunk while
ingest sends the one before."""
READY = b'"ready"\n'
"""The child's first line, written once its model is loaded."""
_LINE_LIMIT = 256 * 1024 * 1024
"""Longest line read from the child (a batch's answers are ~30 bytes a text)."""

Answer = asyncio.Future[list[Detected] | None]
"""A submitted chunk's languages; ``None`` when the child failed before answering."""


def detect_inline(texts: Sequence[str]) -> list[Detected]:
    """The languages of ``texts``, detected in this process."""
    return [detect(text) for text in texts]


def encode_line(texts: Sequence[str]) -> bytes:
    """``texts`` as one line of JSON (a newline inside a text is escaped, so it stays in
    its line). orjson, at a twentieth of the stdlib's cost; a text orjson refuses (a lone
    surrogate, which is no UTF-8) goes as ASCII-escaped JSON, which :func:`decode_line`
    also reads."""
    try:
        return orjson.dumps(list(texts)) + b"\n"
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(list(texts)).encode("ascii") + b"\n"


def decode_line(line: bytes) -> list[str]:
    """The texts of one line written by :func:`encode_line`."""
    try:
        texts: list[str] = orjson.loads(line)
    except orjson.JSONDecodeError:  # the ASCII form, with a lone surrogate escaped
        texts = json.loads(line)
    return texts


class _Child:
    """One running child: requests written at once, answers read in the same order."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.failed = False
        self.closing = False
        self._pending: deque[tuple[Answer, int]] = deque()
        self._reader = asyncio.ensure_future(self._read())

    @property
    def alive(self) -> bool:
        return not self.failed and self.process.returncode is None

    def send(self, texts: Sequence[str]) -> Answer:
        """Write one request now (no await: the child starts on it while the caller goes
        on); its answer arrives in the returned future."""
        assert self.process.stdin is not None  # noqa: S101  # PIPE was asked for
        answer: Answer = asyncio.get_running_loop().create_future()
        self.process.stdin.write(encode_line(texts))
        self._pending.append((answer, len(texts)))
        return answer

    def fail(self, reason: object) -> None:
        """Give up on this child: every pending request answers ``None``."""
        if not self.failed and not self.closing:
            log.warning("language worker failed (%s); detecting inline and starting it "
                        "again", reason)
        self.failed = True
        while self._pending:
            answer, _ = self._pending.popleft()
            if not answer.done():
                answer.set_result(None)
        if self.process.returncode is None:
            self.process.kill()
        if not self._reader.done():
            self._reader.cancel()

    async def close(self) -> None:
        """Close the child's stdin and wait for it to exit (killed after 5 s)."""
        self.closing = True  # its end of stdout is expected now, not a failure
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 5.0)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self.fail("stopped")

    async def _read(self) -> None:
        assert self.process.stdout is not None  # noqa: S101  # PIPE was asked for
        try:
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    raise EOFError("it exited")
                answers = orjson.loads(line)
                answer, count = self._pending.popleft()
                if not isinstance(answers, list) or len(answers) != count:
                    raise ValueError(f"{count} texts sent, {len(answers)} answers back")
                if not answer.done():
                    answer.set_result([Detected(str(code), float(p)) for code, p in answers])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001  # any fault of the child: inline from now
            self.fail(f"{type(exc).__name__}: {exc}")


class LanguageWorker:
    """Detects the languages of chunks of texts in one child process.

    :meth:`submit` writes a chunk to the child at once and returns a future;
    :meth:`languages` waits for it (inline detection when there is no answer). Chunks
    are answered in the order they were submitted, by any number of callers.
    """

    def __init__(self, *, min_batch: int, timeout_seconds: float = 5.0) -> None:
        self.min_batch = min_batch
        self.timeout_seconds = timeout_seconds
        self._child: _Child | None = None
        self._starting: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether a child is up and has loaded its model."""
        return self._child is not None and self._child.alive

    async def start(self) -> None:
        """Start the child and wait until its model is loaded (also done lazily)."""
        if not self.running:
            self._ensure_starting()
            assert self._starting is not None  # noqa: S101  # just set
            await asyncio.shield(self._starting)

    def submit(self, texts: Sequence[str]) -> tuple[Answer, _Child] | None:
        """Send ``texts`` to the child now; ``None`` when none is up (one is started for
        later chunks, and this one is detected inline)."""
        child = self._child
        if child is None or not child.alive:
            self._ensure_starting()
            return None
        try:
            return child.send(texts), child
        except (OSError, RuntimeError) as exc:  # the pipe or its transport is closing
            child.fail(f"{type(exc).__name__}: {exc}")
            return None

    async def languages(
        self, submitted: tuple[Answer, _Child] | None, texts: Sequence[str]
    ) -> list[Detected]:
        """The languages of a chunk :meth:`submit` took (same ``texts``); detected inline
        when the child failed, answered later than ``timeout_seconds``, or was not up."""
        if submitted is None:
            return detect_inline(texts)
        answer, child = submitted
        try:
            found = await asyncio.wait_for(asyncio.shield(answer), self.timeout_seconds)
        except TimeoutError:
            child.fail(f"no answer in {self.timeout_seconds} s")
            found = None
        return detect_inline(texts) if found is None else found

    async def detect_many(self, texts: Sequence[str]) -> list[Detected]:
        """The language of every text, in order; never raises for any ``str``."""
        if len(texts) < self.min_batch:
            return detect_inline(texts)
        chunks = [texts[i : i + CHUNK_TEXTS] for i in range(0, len(texts), CHUNK_TEXTS)]
        submitted = [self.submit(chunk) for chunk in chunks]
        found: list[Detected] = []
        for chunk, answer in zip(chunks, submitted, strict=True):
            found += await self.languages(answer, chunk)
        return found

    async def stop(self) -> None:
        """Stop the child (it reads its stdin to the end first)."""
        child, self._child = self._child, None
        if child is not None:
            await child.close()

    def _ensure_starting(self) -> None:
        if self._starting is None or self._starting.done():
            self._starting = asyncio.ensure_future(self._spawn())

    async def _spawn(self) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", __name__,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=_LINE_LIMIT,
        )
        assert process.stdout is not None  # noqa: S101  # PIPE was asked for
        try:
            first = await asyncio.wait_for(process.stdout.readline(), 60.0)
        except TimeoutError:
            first = b""
        if first != READY:
            log.warning("language worker did not start (%r); detecting inline", first[:200])
            process.kill()
            return
        self._child = _Child(process)
        log.info("language worker %d ready", process.pid)


def serve() -> None:
    """The child: one JSON list of texts a line in, one list of ``[language, confidence]``
    a line out, until stdin closes."""
    # Ctrl-C or a stop signal sent to the whole process group is ingest's to handle: it
    # closes this child's stdin once it no longer needs it (or dies, which closes it).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    load()
    out = sys.stdout.buffer
    out.write(READY)
    out.flush()
    for line in sys.stdin.buffer:
        answers = [tuple(detect(text)) for text in decode_line(line)]
        out.write(orjson.dumps(answers) + b"\n")
        out.flush()


if __name__ == "__main__":
    serve()
