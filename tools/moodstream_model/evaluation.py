"""Scoring labelled sets: the metrics, the served backends and the lexicon baselines.

Every scorer maps texts to ``(label, polarity)`` pairs, so the trained model (through
the service's own inference path, either backend) and the baselines are measured the
same way on the same texts.

Baseline thresholds: VADER compound >= 0.05 positive, <= -0.05 negative (its authors'
rule); TextBlob polarity > 0 positive, < 0 negative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from moodstream_analyzer.model import SentimentModel
from moodstream_common.records import LABEL_NEGATIVE, LABEL_NEUTRAL, LABEL_POSITIVE, LABELS
from moodstream_model.data import Example

Scorer = Callable[[Sequence[str]], list[tuple[str, float]]]
"""Texts -> (label, polarity score) per text."""

BATCH = 64
"""Texts per ``predict_batch`` call: the analyzer's default batch size."""


def classification_metrics(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] = LABELS
) -> dict[str, Any]:
    """Accuracy, macro-F1 over ``labels`` and per-label precision/recall/F1.

    A prediction outside ``labels`` (a neutral answer on a two-class set) counts as an
    error for its gold label and as no one's true positive.
    """
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    per_label: dict[str, dict[str, float]] = {}
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if p == label and g != label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    correct = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p)
    return {
        "accuracy": correct / len(gold) if gold else 0.0,
        "macro_f1": sum(v["f1"] for v in per_label.values()) / len(labels),
        "n": len(gold),
        "per_label": per_label,
    }


def model_scorer(model: SentimentModel) -> Scorer:
    """A loaded service model, called in batches of :data:`BATCH` as the analyzer calls it."""

    def score(texts: Sequence[str]) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for start in range(0, len(texts), BATCH):
            out += [(p.label, p.score) for p in model.predict_batch(texts[start : start + BATCH])]
        return out

    return score


def served_model(model_dir: Path, backend: str) -> SentimentModel:
    """The model in ``model_dir`` loaded by the analyzer's ``backend`` (onnx or flair)."""
    from moodstream_analyzer.model import load_model

    return load_model(model_dir, backend=backend)


def vader_scorer() -> Scorer:
    """VADER's compound score with its authors' ±0.05 neutral band."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()

    def score(texts: Sequence[str]) -> list[tuple[str, float]]:
        compounds = [analyzer.polarity_scores(text)["compound"] for text in texts]
        return [(polarity_label(c, 0.05), c) for c in compounds]

    return score


def textblob_scorer() -> Scorer:
    """TextBlob's pattern-lexicon polarity; exactly 0 is neutral."""
    from textblob import TextBlob

    def score(texts: Sequence[str]) -> list[tuple[str, float]]:
        polarities = [float(TextBlob(text).sentiment.polarity) for text in texts]
        return [(polarity_label(p, 1e-9), p) for p in polarities]

    return score


def polarity_label(score: float, band: float) -> str:
    """Positive at ``score >= band``, negative at ``score <= -band``, else neutral."""
    if score >= band:
        return LABEL_POSITIVE
    if score <= -band:
        return LABEL_NEGATIVE
    return LABEL_NEUTRAL


def evaluate(
    scorer: Scorer, examples: Sequence[Example], labels: Sequence[str] = LABELS
) -> tuple[dict[str, Any], list[str]]:
    """Rounded metrics of ``scorer`` on ``examples`` and its label per example.

    On a two-class set (no neutral gold label) ``polarity_macro_f1`` is added: the label
    decided by the sign of the polarity alone, so a neutral answer is not the only way
    to be wrong.
    """
    import time

    texts = [e.text for e in examples]
    gold = [e.label for e in examples]
    started = time.perf_counter()
    results = scorer(texts)
    seconds = time.perf_counter() - started
    predicted = [label for label, _ in results]
    metrics = classification_metrics(gold, predicted, labels)
    report: dict[str, Any] = {
        "n": len(texts),
        "macro_f1": round(metrics["macro_f1"], 4),
        "accuracy": round(metrics["accuracy"], 4),
        "neutral_share": round(predicted.count(LABEL_NEUTRAL) / max(1, len(texts)), 4),
        "per_label_f1": {k: round(v["f1"], 4) for k, v in metrics["per_label"].items()},
        "texts_per_s": round(len(texts) / seconds, 1) if seconds > 0 else None,
    }
    if LABEL_NEUTRAL not in labels:
        polarity = [polarity_label(score, 1e-12) for _, score in results]
        report["polarity_macro_f1"] = round(
            classification_metrics(gold, polarity, labels)["macro_f1"], 4
        )
    return report, predicted


def agreement(first: Sequence[str], second: Sequence[str]) -> float:
    """Share of positions where two label lists agree."""
    if len(first) != len(second):
        raise ValueError("label lists differ in length")
    return sum(a == b for a, b in zip(first, second, strict=True)) / max(1, len(first))
