"""``make model``: build the analyzer's model directory, or reuse the cached one.

    python -m moodstream_model --out models/sentiment-v2 [--force]

Steps, each logged with its progress:

1. the cache key of this checkout and settings (:mod:`moodstream_model.cache`); when
   ``--out`` already holds that build, or the cache does, nothing is trained;
2. the data (:mod:`moodstream_model.data`) and the fine-tuning
   (:mod:`moodstream_model.training`), saved as flair's ``model.pt``;
3. the ONNX int8 export (:mod:`moodstream_model.export_onnx`);
4. the evaluation of both backends and of VADER and TextBlob on every evaluation set,
   and the parity of the export with the flair model (:mod:`moodstream_model.evaluation`);
5. ``metadata.json``, the cache entry, and an atomic rename into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from moodstream_analyzer.model import (
    METADATA_FILE,
    SYMBOL_NAMES,
    WEIGHTS_FILE,
    ModelMetadata,
    ModelUnavailable,
    checked_file,
    sha256_file,
)
from moodstream_analyzer.onnx_model import METADATA_KEY
from moodstream_common.records import LABEL_NEGATIVE, LABEL_POSITIVE, LABELS
from moodstream_model import cache, evaluation, export_onnx, training
from moodstream_model.data import (
    LEFT_OUT,
    TWO_CLASS,
    Example,
    Splits,
    load_left_out,
    three_class_train_labels,
    training_splits,
)

log = logging.getLogger("moodstream.model.build")

NAME = "sentiment-minilm"
VERSION = "2.0.0"
FIGURES_FILE = "training.json"
"""Beside cached weights: the training figures (loss, seconds) for ``metadata.json``."""
CALIBRATION_TEXTS = 512
"""Training texts that fix the int8 graph's activation ranges."""
CALIBRATION_SEED = 1
LANGUAGES = ("en",)
"""Languages the model is trained and evaluated on (``metadata.json`` ``languages``): every
source in :mod:`moodstream_model.data` is English. The analyzer scores only these."""
"""The sample measured when static quantization was chosen (the only one tried)."""
TRANSFER_SET = LEFT_OUT[0]
"""The corpus left out of training entirely that the accuracy targets name (Rotten
Tomatoes); every corpus in :data:`moodstream_model.data.LEFT_OUT` is scored."""


def verified(model_dir: Path) -> ModelMetadata:
    """``model_dir``'s metadata after checking every file against its SHA-256.

    Raises :class:`ModelUnavailable` for a missing, partial or corrupt directory.
    """
    metadata = ModelMetadata.read(model_dir)
    checked_file(model_dir, metadata.weights, metadata.weights_sha256)
    export = metadata.extra.get(METADATA_KEY)
    if not isinstance(export, dict):
        raise ModelUnavailable(f"{model_dir / METADATA_FILE} records no ONNX export")
    checked_file(model_dir, export["file"], export.get("file_sha256"))
    checked_file(model_dir, export["tokenizer"], export.get("tokenizer_sha256"))
    return metadata


def _is_build(model_dir: Path, key: str) -> bool:
    try:
        metadata = verified(model_dir)
    except ModelUnavailable:
        return False
    return metadata.extra.get("build", {}).get("cache_key") == key


def evaluation_sets(splits_test: dict[str, list[Example]]) -> dict[str, list[Example]]:
    """Every set the model is scored on: each source's test part, then the left-out corpora."""
    return {**{f"test:{name}": ex for name, ex in splits_test.items()},
            **{name: load_left_out(name).examples for name in LEFT_OUT}}


def labels_of(set_name: str) -> tuple[str, ...]:
    """The gold labels of an evaluation set: two on a positive/negative corpus, else three."""
    corpus = set_name.removeprefix("test:")
    return (LABEL_POSITIVE, LABEL_NEGATIVE) if corpus in TWO_CLASS else LABELS


def evaluate_all(model_dir: Path, sets: dict[str, list[Example]]) -> dict[str, Any]:
    """Metrics of both backends and both baselines on ``sets``, and the export's parity."""
    scorers = {
        "onnx": evaluation.model_scorer(evaluation.served_model(model_dir, "onnx")),
        "flair": evaluation.model_scorer(evaluation.served_model(model_dir, "flair")),
        "vader": evaluation.vader_scorer(),
        "textblob": evaluation.textblob_scorer(),
    }
    metrics: dict[str, dict[str, Any]] = {name: {} for name in scorers}
    parity: dict[str, Any] = {}
    pooled: dict[str, list[str]] = {"onnx": [], "flair": []}
    pooled_gold: list[str] = []
    for set_name, examples in sets.items():
        labels = labels_of(set_name)
        predicted = {}
        for scorer_name, scorer in scorers.items():
            log.info("evaluating %s on %s (%d texts)", scorer_name, set_name, len(examples))
            metrics[scorer_name][set_name], predicted[scorer_name] = evaluation.evaluate(
                scorer, examples, labels
            )
        if set_name != "dev":  # pooled over the held-out sets
            pooled_gold += [example.label for example in examples]
            for backend in pooled:
                pooled[backend] += predicted[backend]
        parity[set_name] = {
            "label_agreement": round(
                evaluation.agreement(predicted["onnx"], predicted["flair"]), 4
            ),
            "macro_f1_difference": round(
                metrics["onnx"][set_name]["macro_f1"] - metrics["flair"][set_name]["macro_f1"], 4
            ),
        }
    parity["pooled_label_agreement"] = round(
        evaluation.agreement(pooled["onnx"], pooled["flair"]), 4
    )
    pooled_f1 = {
        backend: evaluation.classification_metrics(pooled_gold, labels_)["macro_f1"]
        for backend, labels_ in pooled.items()
    }
    parity["pooled_macro_f1_difference"] = round(pooled_f1["onnx"] - pooled_f1["flair"], 4)
    return {"metrics": metrics, "parity": parity}


def build(
    out: Path,
    settings: training.TrainingSettings,
    *,
    force: bool = False,
    torch_threads: int = 0,
) -> Path:
    """Make ``out`` hold the model these settings and this checkout build; returns ``out``."""
    started = time.perf_counter()
    key = cache.cache_key({"name": NAME, "version": VERSION, **settings.as_dict()})
    if not force and _is_build(out, key):
        log.info("%s is up to date (cache key %s)", out, key[:12])
        return out
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    cached = None if force else cache.lookup(key)
    weights_key = cache.weights_key({"name": NAME, "version": VERSION, **settings.as_dict()})
    weights = None if force else cache.lookup_weights(weights_key)
    if cached is not None and _is_build(cached, key):
        log.info("reusing the cached build %s", cached)
        shutil.copytree(cached, partial)
    elif weights is not None and (weights / WEIGHTS_FILE).is_file():
        log.info("reusing the cached weights %s: exporting and evaluating again", weights)
        partial.mkdir(parents=True)
        shutil.copy2(weights / WEIGHTS_FILE, partial / WEIGHTS_FILE)
        figures = json.loads((weights / FIGURES_FILE).read_text(encoding="utf-8"))
        package(partial, _splits(settings), settings, figures, key, started)
        cache.store(key, partial)
    else:
        _train_into(partial, settings, key, weights_key, started, torch_threads)
        cache.store(key, partial)
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    log.info("wrote %s in %.0f s", out, time.perf_counter() - started)
    return out


def _splits(settings: training.TrainingSettings) -> Splits:
    splits = training_splits(seed=settings.seed, max_train_per_corpus=settings.max_train_per_corpus)
    log.info(
        "data: %d train, %d dev, test %s",
        len(splits.train), len(splits.dev), {k: len(v) for k, v in splits.test.items()},
    )
    return splits


def _train_into(
    partial: Path,
    settings: training.TrainingSettings,
    key: str,
    weights_key: str,
    started: float,
    torch_threads: int,
) -> None:
    splits = _splits(settings)
    classifier, figures = training.fine_tune(
        splits.train, settings, class_counts=three_class_train_labels(splits),
        torch_threads=torch_threads,
    )
    with tempfile.TemporaryDirectory() as scratch:
        weights = Path(scratch)
        classifier.save(weights / WEIGHTS_FILE)
        (weights / FIGURES_FILE).write_text(json.dumps(figures), encoding="utf-8")
        cache.store_weights(weights_key, weights)
        partial.mkdir(parents=True)
        shutil.copy2(weights / WEIGHTS_FILE, partial / WEIGHTS_FILE)
    del classifier
    package(partial, splits, settings, figures, key, started)


def package(
    partial: Path,
    splits: Splits,
    settings: training.TrainingSettings,
    figures: dict[str, Any],
    key: str,
    started: float,
) -> None:
    """Export, evaluate and describe the flair weights in ``partial``."""
    export_started = time.perf_counter()
    # Seeded, and from the training split only: evaluation texts never shape the export.
    rng = random.Random(CALIBRATION_SEED)  # noqa: S311  # reproducibility, not secrets
    calibration = [e.text for e in rng.sample(splits.train, CALIBRATION_TEXTS)]
    onnx_block = export_onnx.export(partial, calibration)
    export_seconds = time.perf_counter() - export_started
    base = ModelMetadata(
        name=NAME,
        version=VERSION,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        training_data={
            "sources": splits.sources,
            "left_out_for_transfer": [load_left_out(name).source for name in LEFT_OUT],
            "sizes": {"train": len(splits.train), "dev": len(splits.dev),
                      **{f"test:{k}": len(v) for k, v in splits.test.items()}},
            "deduplication": "texts compared by moodstream_model.data.text_key (case, "
            "punctuation and spacing folded); evaluation texts and texts of an earlier "
            "corpus are dropped before splitting",
        },
        weights=WEIGHTS_FILE,
        weights_sha256=sha256_file(partial / WEIGHTS_FILE),
        languages=LANGUAGES,
        extra={"input_transform": SYMBOL_NAMES, METADATA_KEY: onnx_block},
    )
    # The backends read metadata.json, so a first one (without figures) goes in first.
    (partial / METADATA_FILE).write_text(base.to_json(), encoding="utf-8")
    sets = {"dev": splits.dev, **evaluation_sets(splits.test)}
    evaluated = evaluate_all(partial, sets)
    metadata = replace(
        base,
        extra={
            **base.extra,
            "encoder": {
                "name": training.ENCODER_NAME,
                "package": f"{training.ENCODER_PACKAGE}=="
                f"{package_version(training.ENCODER_PACKAGE)}",
                "pooling": "mean",
                "fine_tuned": True,
            },
            "training": {**settings.as_dict(), **figures,
                         "export_seconds": round(export_seconds, 1)},
            "evaluation": {
                "dev": "used while choosing the training settings: not held out",
                "held_out": [name for name in sets if name != "dev"],
                "transfer": list(LEFT_OUT),
            },
            **evaluated,
            "build": {
                "cache_key": key,
                "key_inputs": cache.key_inputs(
                    {"name": NAME, "version": VERSION, **settings.as_dict()}
                ),
                "build_seconds": round(time.perf_counter() - started, 1),
            },
            "weights_bytes": (partial / WEIGHTS_FILE).stat().st_size,
            "onnx_bytes": (partial / onnx_block["file"]).stat().st_size,
        },
    )
    (partial / METADATA_FILE).write_text(metadata.to_json(), encoding="utf-8")
    for set_name, figures_ in evaluated["metrics"]["onnx"].items():
        log.info(
            "%s: onnx macro-F1 %.3f, flair %.3f, VADER %.3f, TextBlob %.3f; labels agree %.1f %%",
            set_name, figures_["macro_f1"], evaluated["metrics"]["flair"][set_name]["macro_f1"],
            evaluated["metrics"]["vader"][set_name]["macro_f1"],
            evaluated["metrics"]["textblob"][set_name]["macro_f1"],
            100 * evaluated["parity"][set_name]["label_agreement"],
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (``make model``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="model directory to write")
    parser.add_argument("--force", action="store_true", help="train even if cached")
    parser.add_argument("--torch-threads", type=int, default=0, help="0 = torch default")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    build(args.out, training.TrainingSettings(), force=args.force, torch_threads=args.torch_threads)
    return 0
