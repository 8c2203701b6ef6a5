"""The sentiment model behind a small protocol; what both backends share.

A model directory (``models/sentiment-v2``, written by ``make model``) holds the flair
weights (``model.pt``), their ONNX export (``model.onnx``, ``tokenizer.json``) and a
``metadata.json`` naming the model, its version, its training data and every file's
SHA-256. The version travels on every scored record, so it is read from the directory,
never guessed. Two backends serve the same directory (``ANALYZER_BACKEND``):

- ``onnx`` (default): :class:`moodstream_analyzer.onnx_model.OnnxSentimentModel`, int8,
  without torch;
- ``flair``: :class:`moodstream_analyzer.flair_model.FlairSentimentModel`, the float
  reference the export is checked against.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from moodstream_common.records import LABEL_NEGATIVE, LABEL_NEUTRAL, LABEL_POSITIVE, LABELS

METADATA_FILE = "metadata.json"
WEIGHTS_FILE = "model.pt"
LABEL_TYPE = "sentiment"
"""The flair label type the classifier was trained on."""
SYMBOL_NAMES = "symbol-names-v1"
"""``input_transform`` of models trained on :func:`name_symbols` output."""

DEFAULT_MODEL_DIR = Path("models/sentiment-v2")
"""Where ``make model`` writes the model (relative to the repository root)."""
BACKENDS = ("onnx", "flair")
"""What ``ANALYZER_BACKEND`` may name; the first is the default."""
FIX = "run `make model` to build it"
DEFAULT_LANGUAGES = ("en",)
"""Read when ``metadata.json`` has no ``languages``: every model built before the field
was trained and evaluated on English only."""
"""How to repair a model directory, in every error about one."""

DEFAULT_TOKEN_BUDGET = 64 * 40
"""Padded tokens per model call: 64 texts of up to 40 words, or fewer longer ones."""
CONCURRENT_BACKENDS = frozenset({"onnx"})
"""Backends whose calls may run at once from several threads (flair's are serialised)."""

# Unicode's names for a few common emoji read as the opposite of what people mean.
_SYMBOL_NAMES = {"\u2764": "red heart", "\u2665": "heart"}
# Presentation selectors, ZWJ, keycap, skin tones and tag characters only shape how an
# emoji looks; without the emoji's own name next to them they are noise.
_SYMBOL_SHAPERS = {"\ufe0e", "\ufe0f", "\u200d", "\u20e3"}


class ModelUnavailable(RuntimeError):
    """A model directory cannot be served (missing, partial, corrupt); the message names
    the path and the fix."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """One text's sentiment.

    ``label`` is ``"positive"``, ``"neutral"`` or ``"negative"``; ``score`` the polarity
    in [-1, 1] (P(positive) - P(negative)); ``confidence`` the probability of ``label``.
    """

    label: str
    score: float
    confidence: float


@runtime_checkable
class SentimentModel(Protocol):
    """What the analyzer needs from a model: load once, then score batches.

    ``predict_batch`` blocks (it runs the model): call it from executor threads, as many
    at once as :func:`call_plan` says the backend can use.
    """

    @property
    def name(self) -> str:
        """Model name, carried on every scored record."""
        ...

    @property
    def version(self) -> str:
        """Model version, carried on every scored record."""
        ...

    @property
    def languages(self) -> frozenset[str]:
        """ISO 639-1 codes of the languages the model was trained and evaluated on: the
        analyzer scores these and ``und``, and leaves any other language unscored."""
        ...

    def load(self) -> None:
        """Load the weights; idempotent."""
        ...

    def is_loaded(self) -> bool:
        """Whether :meth:`predict_batch` can run."""
        ...

    def predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
        """One prediction per text, in order."""
        ...


@dataclass(frozen=True)
class ModelMetadata:
    """The ``metadata.json`` written next to a model's weights."""

    name: str
    version: str
    created: str
    training_data: dict[str, Any]
    weights: str = WEIGHTS_FILE
    weights_sha256: str | None = None
    labels: tuple[str, ...] = LABELS
    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, model_dir: Path) -> ModelMetadata:
        """Read and check ``model_dir/metadata.json``; raises :class:`ModelUnavailable`
        if it is missing or malformed."""
        path = model_dir / METADATA_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelUnavailable(f"{path} not found: {FIX}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelUnavailable(f"{path} cannot be read ({exc}): {FIX}") from None
        if not isinstance(raw, dict):
            raise ModelUnavailable(f"{path} is not a JSON object: {FIX}")
        missing = [key for key in ("name", "version", "created", "training_data") if key not in raw]
        if missing:
            raise ModelUnavailable(f"{path} lacks {', '.join(missing)}: {FIX}")
        known = {"name", "version", "created", "training_data", "weights", "weights_sha256"}
        labels = tuple(raw.get("labels", LABELS))
        if set(labels) != set(LABELS):
            raise ModelUnavailable(f"{path}: labels {labels} are not {LABELS}: {FIX}")
        languages = raw.get("languages", list(DEFAULT_LANGUAGES))
        if not (
            isinstance(languages, list)
            and languages
            and all(isinstance(code, str) and len(code) == 2 for code in languages)
        ):
            raise ModelUnavailable(
                f"{path}: languages {languages!r} is not a list of ISO 639-1 codes: {FIX}"
            )
        return cls(
            name=str(raw["name"]),
            version=str(raw["version"]),
            created=str(raw["created"]),
            training_data=dict(raw["training_data"]),
            weights=str(raw.get("weights", WEIGHTS_FILE)),
            weights_sha256=raw.get("weights_sha256"),
            labels=labels,
            languages=tuple(languages),
            extra={k: v for k, v in raw.items() if k not in known | {"labels", "languages"}},
        )

    def to_json(self) -> str:
        """The metadata as written to ``metadata.json``."""
        body = {
            "name": self.name,
            "version": self.version,
            "created": self.created,
            "training_data": self.training_data,
            "weights": self.weights,
            "weights_sha256": self.weights_sha256,
            "labels": list(self.labels),
            "languages": list(self.languages),
            **self.extra,
        }
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checked_file(model_dir: Path, name: str, expected_sha256: str | None) -> Path:
    """``model_dir/name`` after checking it exists and matches ``expected_sha256``.

    Raises :class:`ModelUnavailable` naming the file and the fix, so a partial copy or
    another model's file is never served under this directory's name and version.
    """
    path = model_dir / name
    if not path.is_file():
        raise ModelUnavailable(f"{path} is missing: {FIX}")
    if not expected_sha256:
        raise ModelUnavailable(f"{model_dir / METADATA_FILE} records no SHA-256 for {name}: {FIX}")
    if sha256_file(path) != expected_sha256:
        raise ModelUnavailable(
            f"{path} does not match the SHA-256 in {METADATA_FILE} (a partial or corrupt "
            f"copy?): {FIX}"
        )
    return path


class ModelDirectory:
    """What every backend shares: the directory, its metadata, name, version, a lock,
    and how calls are made.

    ``threads`` is the backend's intra-op threads (0: one per core); ``mini_batch_size``
    and ``token_budget`` bound each model call (:func:`length_groups`). Reading the
    metadata happens at construction (cheap, and an unusable directory is reported at
    once); loading weights happens in the subclass's ``load``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        threads: int = 0,
        mini_batch_size: int = 64,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
    ) -> None:
        self.path = Path(path)
        self.threads = threads
        self.mini_batch_size = mini_batch_size
        self.token_budget = token_budget
        self.metadata = ModelMetadata.read(self.path)
        transform = self.metadata.extra.get("input_transform")
        if transform not in (None, SYMBOL_NAMES):
            # Predicting without the transform the model was trained on would be wrong
            # silently; refuse instead.
            raise ModelUnavailable(f"{self.path}: unknown input_transform {transform!r}: {FIX}")
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """Model name from ``metadata.json``."""
        return self.metadata.name

    @property
    def version(self) -> str:
        """Model version from ``metadata.json``."""
        return self.metadata.version

    @property
    def languages(self) -> frozenset[str]:
        """Languages from ``metadata.json`` (``languages``)."""
        return frozenset(self.metadata.languages)

    def model_input(self, texts: Sequence[str]) -> list[str]:
        """``texts`` as the model was trained to read them (its ``input_transform``)."""
        if self.metadata.extra.get("input_transform") == SYMBOL_NAMES:
            return [name_symbols(text) for text in texts]
        return list(texts)


@dataclass(frozen=True)
class CallPlan:
    """How the model is called: ``calls`` at once, each with ``threads`` intra-op threads
    (0: the backend's default)."""

    calls: int
    threads: int


def call_plan(backend: str, calls: int = 0, threads: int = 0, cpus: int | None = None) -> CallPlan:
    """How many model calls to run at once and with how many threads each.

    ``calls`` and ``threads`` are the settings (0: choose). ONNX Runtime may run one
    session from several threads, and on a few cores ``cpus`` single-threaded calls at
    once beat one call using every core: an intra-op thread pool waits at every operator
    for its slowest thread, so a core busy with the event loop for a moment stalls the
    whole call. On 2 cores, two one-thread calls scored 1.2x one two-thread call alone
    (bench.analyzer_throughput). The service runs one call more than it has cores: a
    call's thread waits now and then (for the event loop to hand it the next batch, for
    the GIL), and the spare call keeps that core busy meanwhile; on 2 cores three calls
    kept the machine 97-98 % busy instead of 95 % and scored about 7 % more, while the
    model alone scores the same with two or three. flair's calls are serialised, so it
    makes one call at a time with torch's threads.
    """
    cpus = cpus or os.cpu_count() or 1
    if backend not in CONCURRENT_BACKENDS:
        return CallPlan(calls=1, threads=threads)
    calls = calls or cpus + 1
    return CallPlan(calls=calls, threads=threads or max(1, cpus // calls))


def load_model(
    path: str | Path,
    *,
    backend: str = BACKENDS[0],
    threads: int = 0,
    mini_batch_size: int = 64,
    token_budget: int = DEFAULT_TOKEN_BUDGET,
) -> SentimentModel:
    """The model in ``path`` served by ``backend``, loaded.

    Raises :class:`ModelUnavailable` when the directory cannot be served by it. The
    backend modules are imported here, so the onnx backend never imports torch.
    """
    backend_class: type[ModelDirectory]
    if backend == "onnx":
        from moodstream_analyzer.onnx_model import OnnxSentimentModel as backend_class
    elif backend == "flair":
        from moodstream_analyzer.flair_model import FlairSentimentModel as backend_class
    else:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    model: SentimentModel = backend_class(  # type: ignore[assignment]  # subclasses load()
        path, threads=threads, mini_batch_size=mini_batch_size, token_budget=token_budget
    )
    model.load()
    return model


def prediction_from_probabilities(probabilities: dict[str, float]) -> Prediction:
    """A :class:`Prediction` from per-label probabilities (missing labels count as 0).

    Ties go to neutral, then to the label order in ``LABELS``, so equal evidence never
    flips a message's polarity.
    """
    probs = {label: float(probabilities.get(label, 0.0)) for label in LABELS}
    best = max(probs.values())
    label = LABEL_NEUTRAL if probs[LABEL_NEUTRAL] == best else max(LABELS, key=probs.__getitem__)
    score = probs[LABEL_POSITIVE] - probs[LABEL_NEGATIVE]
    return Prediction(label=label, score=max(-1.0, min(1.0, score)), confidence=probs[label])


def name_symbols(text: str) -> str:
    """``text`` with each symbol (emoji, dingbat: category ``So``) replaced by its
    Unicode name in words, e.g. "landed 😍" -> "landed smiling face with heart-shaped
    eyes".

    The encoder's vocabulary has no emoji (each would be ``[UNK]``), yet in short
    messages they often carry the sentiment; their names are words it knows.
    """
    if text.isascii():
        return text
    parts: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch in _SYMBOL_SHAPERS or 0x1F3FB <= code <= 0x1F3FF or 0xE0000 <= code <= 0xE007F:
            parts.append(" ")
        elif unicodedata.category(ch) == "So":
            name = _SYMBOL_NAMES.get(ch) or unicodedata.name(ch, "").lower()
            parts.append(f" {name} " if name else " ")
        else:
            parts.append(ch)
    return " ".join("".join(parts).split())


def use_offline_hub() -> None:
    """Forbid Hugging Face hub downloads in this process: models come from disk only."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


CALL_OVERHEAD_TOKENS = 24
"""What one model call costs beyond its tokens, in tokens' worth of work (measured on
both backends, int8 ONNX and flair, 2 cores: about 3 ms and 7 ms a call, against 0.12
ms and 0.29 ms a padded token). It is what splitting a group saves against."""


def length_groups(
    lengths: Sequence[int],
    max_texts: int,
    token_budget: int,
    call_overhead_tokens: int = CALL_OVERHEAD_TOKENS,
) -> list[list[int]]:
    """Indices of ``lengths`` (tokens per text) grouped into model calls, longest first.

    A model call pads every text to its longest, so a call costs about ``count x
    longest`` padded tokens plus a fixed ``call_overhead_tokens``. One long text among
    short ones makes a whole call pay for its length (measured: one 2,000-character
    text in a batch of 64 took the call from 0.2 s to 6.3 s), and even short messages
    vary: the load generator's average 14 tokens, but a batch of 64 padded to its
    longest averaged 25.5. So texts are sorted by length and cut into the consecutive
    groups of least total cost (an exact dynamic programme, O(texts x max_texts)),
    where a group holds at most ``max_texts`` texts and ``count x longest`` at most
    ``token_budget``, except that a text longer than the budget gets a group of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    sizes = [max(1, lengths[i]) for i in order]
    count = len(sizes)
    # best[end]: least cost of grouping sizes[:end]; cut[end]: where its last group starts.
    best = [0] + [0] * count
    cut = [0] * (count + 1)
    for end in range(1, count + 1):
        best[end] = -1
        for start in range(end - 1, max(-1, end - 1 - max_texts), -1):
            members = end - start
            padded = members * sizes[start]  # sizes descend: sizes[start] is the longest
            if members > 1 and padded > token_budget:
                break  # a longer start only adds texts at this length or more
            cost = best[start] + call_overhead_tokens + padded
            if best[end] < 0 or cost < best[end]:
                best[end], cut[end] = cost, start
    groups: list[list[int]] = []
    end = count
    while end > 0:
        groups.append(order[cut[end] : end])
        end = cut[end]
    groups.reverse()
    return groups
