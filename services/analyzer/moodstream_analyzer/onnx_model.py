"""The ONNX Runtime backend: the flair classifier exported to ONNX, int8, without torch.

``make model`` exports the trained flair classifier (encoder, mean pooling, linear head,
softmax) to ``model.onnx``, quantized to int8 with fixed activation ranges (so a text's
score does not depend on the texts batched with it), and writes the
encoder's fast tokenizer to ``tokenizer.json`` beside it; ``metadata.json`` records both
files' SHA-256, the label order of the output and the longest input in tokens
(``onnx.max_sequence_tokens``). Serving needs onnxruntime, tokenizers and segtok only.

Texts are split into words exactly as flair splits them (segtok), so the tokenizer sees
the same words the flair model saw in training. A text longer than
``max_sequence_tokens`` subword tokens is scored on its first ``max_sequence_tokens - 2``
(the encoder's [CLS]/[SEP] take two): a short message is never cut, and a long one is
judged by its beginning, as a reader skimming it would.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moodstream_analyzer.model import (
    FIX,
    METADATA_FILE,
    ModelDirectory,
    ModelUnavailable,
    Prediction,
    checked_file,
    length_groups,
    prediction_from_probabilities,
)
from moodstream_common.records import LABEL_NEUTRAL, LABELS

ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
METADATA_KEY = "onnx"
"""``metadata.json`` block written by the export: files, hashes, output labels, length."""


def split_words(text: str) -> list[str]:
    """``text`` split into words as flair's default ``SegtokTokenizer`` splits it."""
    from segtok.segmenter import split_single
    from segtok.tokenizer import split_contractions, word_tokenizer

    words: list[str] = []
    for sentence in split_single(text):
        words.extend(split_contractions(word_tokenizer(sentence)))
    return [word for word in words if word]


class OnnxSentimentModel(ModelDirectory):
    """The exported classifier in a model directory, run by ONNX Runtime on the CPU.

    ``threads`` sets ONNX Runtime's intra-op threads (0: one per core). Several threads
    may call :meth:`predict_batch` at once: an ONNX Runtime session and a tokenizer are
    safe to share, and the service runs a call per core (``call_plan``).
    """

    def __init__(self, path: str | Path, **calls: int) -> None:
        super().__init__(path, **calls)
        export = self.metadata.extra.get(METADATA_KEY)
        if not isinstance(export, dict):
            raise ModelUnavailable(f"{self.path / METADATA_FILE} records no ONNX export: {FIX}")
        self.export: dict[str, Any] = export
        output_labels = tuple(export.get("output_labels", ()))
        if sorted(output_labels) != sorted(LABELS):
            raise ModelUnavailable(
                f"{self.path}: ONNX output labels {output_labels} are not {LABELS}: {FIX}"
            )
        self.output_labels = output_labels
        self.max_sequence_tokens = int(export["max_sequence_tokens"])
        self._session: Any = None
        self._tokenizer: Any = None

    def is_loaded(self) -> bool:
        """Whether the session is ready."""
        return self._session is not None

    def load(self) -> None:
        """Open the ONNX session and the tokenizer after checking both files' hashes."""
        with self._lock:
            if self._session is not None:
                return
            model_file = checked_file(
                self.path, str(self.export.get("file", ONNX_FILE)), self.export.get("file_sha256")
            )
            tokenizer_file = checked_file(
                self.path,
                str(self.export.get("tokenizer", TOKENIZER_FILE)),
                self.export.get("tokenizer_sha256"),
            )
            import onnxruntime
            from tokenizers import Tokenizer

            options = onnxruntime.SessionOptions()
            if self.threads > 0:
                options.intra_op_num_threads = self.threads
            # ONNX Runtime's threads spin after a call by default, waiting for the next
            # one: on a few cores shared with Faust, ingest and the aggregator, that
            # burns the CPU they need between batches.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            try:
                session = onnxruntime.InferenceSession(
                    str(model_file), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime raises its own untyped errors
                raise ModelUnavailable(f"{model_file} cannot be loaded ({exc}): {FIX}") from exc
            try:
                tokenizer = Tokenizer.from_file(str(tokenizer_file))
            except Exception as exc:  # tokenizers raises a bare Exception for a bad file
                raise ModelUnavailable(f"{tokenizer_file} cannot be loaded ({exc}): {FIX}") from exc
            tokenizer.enable_truncation(max_length=self.max_sequence_tokens)
            tokenizer.no_padding()
            self._tokenizer = tokenizer
            self._session = session

    def predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
        """One :class:`Prediction` per text, in order; a text with no words is neutral."""
        if self._session is None:
            raise RuntimeError("model not loaded: call load() first")
        import numpy as np

        words = [split_words(text) if text.strip() else [] for text in self.model_input(texts)]
        scored = [i for i, w in enumerate(words) if w]
        results = [Prediction(label=LABEL_NEUTRAL, score=0.0, confidence=1.0)] * len(texts)
        if not scored:
            return results
        encodings = self._tokenizer.encode_batch([words[i] for i in scored], is_pretokenized=True)
        lengths = [len(encoding.ids) for encoding in encodings]
        for group in length_groups(lengths, self.mini_batch_size, self.token_budget):
            longest = max(lengths[i] for i in group)
            ids = np.zeros((len(group), longest), dtype=np.int64)
            mask = np.zeros((len(group), longest), dtype=np.int64)
            for row, index in enumerate(group):
                ids[row, : lengths[index]] = encodings[index].ids
                mask[row, : lengths[index]] = 1
            (probabilities,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            for row, index in enumerate(group):
                results[scored[index]] = prediction_from_probabilities(
                    dict(zip(self.output_labels, map(float, probabilities[row]), strict=True))
                )
        return results
