"""The flair backend: the trained ``TextClassifier`` itself, in float, with torch.

The reference the ONNX export is checked against (``ANALYZER_BACKEND=flair``); it
needs the full training stack (torch, flair, transformers) installed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moodstream_analyzer.model import (
    FIX,
    LABEL_TYPE,
    ModelDirectory,
    ModelUnavailable,
    Prediction,
    checked_file,
    length_groups,
    prediction_from_probabilities,
    use_offline_hub,
)
from moodstream_common.records import LABEL_NEUTRAL, LABELS


class FlairSentimentModel(ModelDirectory):
    """A flair ``TextClassifier`` loaded from a versioned model directory.

    ``threads`` sets torch's intra-op threads when the model loads (0 leaves
    torch's default, one per core); it is process-wide, as torch's setting is.
    Calls to :meth:`predict_batch` are serialised by a lock, so sharing one instance
    between threads is safe, though only one runs the model at a time.
    """

    def __init__(self, path: str | Path, **calls: int) -> None:
        super().__init__(path, **calls)
        self._classifier: Any = None

    def is_loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._classifier is not None

    def load(self) -> None:
        """Load the weights from disk (never from a hub); checks their SHA-256 against
        ``metadata.json`` so a model's version cannot be attached to other weights."""
        with self._lock:
            if self._classifier is not None:
                return
            use_offline_hub()
            weights = checked_file(self.path, self.metadata.weights, self.metadata.weights_sha256)
            try:  # heavy: imported only when this backend is used
                import flair
                import torch
                from flair.models import TextClassifier
            except ImportError as exc:
                # The analyzer's runtime image has no torch: say so instead of crashing.
                raise ModelUnavailable(
                    f"the flair backend needs torch and flair ({exc}): install the full "
                    "requirements.lock, or set ANALYZER_BACKEND=onnx"
                ) from exc

            if self.threads > 0:
                torch.set_num_threads(self.threads)
            flair.device = torch.device("cpu")
            try:
                classifier = TextClassifier.load(weights)
            except Exception as exc:  # torch raises many unrelated types for a bad file
                raise ModelUnavailable(f"{weights} cannot be loaded ({exc}): {FIX}") from exc
            classifier.eval()
            known = set(classifier.label_dictionary.get_items())
            if not set(LABELS) <= known:
                raise ModelUnavailable(f"{weights} predicts {sorted(known)}, not {list(LABELS)}")
            self._classifier = classifier

    def predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
        """One :class:`Prediction` per text, in order; a blank text is neutral.

        Texts should already have been through
        :func:`moodstream_analyzer.text.clean_for_scoring`.
        """
        if self._classifier is None:
            raise RuntimeError("model not loaded: call load() first")
        from flair.data import Sentence

        sentences = [Sentence(text) if text.strip() else None for text in self.model_input(texts)]
        to_predict = [s for s in sentences if s is not None and len(s) > 0]
        groups = length_groups(
            [len(sentence) for sentence in to_predict], self.mini_batch_size, self.token_budget
        )
        with self._lock:
            for group in groups:
                self._classifier.predict(
                    [to_predict[i] for i in group],
                    mini_batch_size=len(group),
                    return_probabilities_for_all_classes=True,
                    embedding_storage_mode="none",
                    label_name=LABEL_TYPE,
                    verbose=False,
                )
        return [_prediction(sentence) for sentence in sentences]


def _prediction(sentence: Any) -> Prediction:
    if sentence is None or len(sentence) == 0:
        return Prediction(label=LABEL_NEUTRAL, score=0.0, confidence=1.0)
    probabilities = {
        label.value: label.score
        for label in sentence.get_labels(LABEL_TYPE)
        if not math.isnan(label.score)
    }
    return prediction_from_probabilities(probabilities)
