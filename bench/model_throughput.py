"""Texts/s of the sentiment model alone (no broker, no Faust), both backends, one run.

    python -m bench.model_throughput [--model models/sentiment-v2] [--repeats 5]

Two text sets, each cleaned as the service cleans them: the load generator's messages
(:mod:`moodstream_dev.textmix`, what ``make loadgen`` and the pipeline bench send) and
real tweets (the CrowdFlower corpus). Each backend is called as the analyzer calls it
(:func:`~moodstream_analyzer.model.call_plan`: onnx one single-threaded call per core at
once, flair one call at a time). Each figure is the median of ``--repeats`` timed runs
after a warm-up batch; the backends alternate run by run, so a noisy minute slows both.
Two ratios at the analyzer's batch size:

- ``onnx / flair``: the two backends serving the same trained model;
- ``onnx / v1 flair path`` (the issue's target, 3x): the served model against the flair
  path the analyzer ran before model v2, a flair ``TextClassifier`` over all six layers
  of all-MiniLM-L6-v2 with mean pooling (:func:`bench.common.write_v1_flair_path`). Its
  head is untrained, so its labels mean nothing, but a forward pass costs the same
  whatever the weights.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import median, table, write_result, write_v1_flair_path
from moodstream_analyzer.model import (
    BACKENDS,
    DEFAULT_MODEL_DIR,
    CallPlan,
    SentimentModel,
    call_plan,
    load_model,
)
from moodstream_analyzer.settings import Settings
from moodstream_analyzer.text import clean_for_scoring
from moodstream_dev.textmix import make_text
from moodstream_model.data import load_crowdflower

BATCH_SIZES = (1, 32, 64, 128)
V1 = "v1_flair_path"


def loadgen_texts(count: int = 2000, seed: int = 7) -> list[str]:
    """The load generator's messages, cleaned for scoring."""
    rng = random.Random(seed)  # noqa: S311  # a repeatable text mix, not secrets
    return [clean_for_scoring(make_text(rng)[0]) for _ in range(count)]


def tweet_texts(count: int = 2000) -> list[str]:
    """CrowdFlower tweets (already cleaned by the corpus loader)."""
    return [e.text for e in load_crowdflower().examples[:count]]


def measure(
    model: SentimentModel, texts: list[str], batch: int, total: int, calls: int = 1
) -> float:
    """Texts/s scoring ``total`` texts in batches of ``batch``, ``calls`` batches at once
    (each on its own thread, as the analyzer calls the model)."""
    pool = itertools.cycle(texts)
    batches = [[next(pool) for _ in range(batch)] for _ in range(max(1, total // batch))]
    with ThreadPoolExecutor(max_workers=calls) as executor:
        started = time.perf_counter()
        for _ in executor.map(model.predict_batch, batches):
            pass
        elapsed = time.perf_counter() - started
    return sum(map(len, batches)) / elapsed


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print a table, write ``bench/results/model_throughput.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--texts", type=int, default=512, help="texts per timed run")
    parser.add_argument("--calls", type=int, default=0, help="calls at once; 0 = as served")
    parser.add_argument("--threads", type=int, default=0, help="threads per call; 0 = as served")
    args = parser.parse_args(argv)
    service_batch = Settings().batch_size

    models: dict[str, SentimentModel] = {}
    plans: dict[str, CallPlan] = {}
    load_seconds = {}
    for backend in BACKENDS:
        plans[backend] = call_plan(backend, args.calls, args.threads)
        started = time.perf_counter()
        models[backend] = load_model(args.model, backend=backend, threads=plans[backend].threads)
        load_seconds[backend] = round(time.perf_counter() - started, 2)
    scratch = tempfile.TemporaryDirectory(prefix="v1-flair-path-")
    models[V1] = load_model(write_v1_flair_path(Path(scratch.name)), backend="flair")
    plans[V1] = call_plan("flair", args.calls, args.threads)
    text_sets = {"loadgen": loadgen_texts(), "tweets": tweet_texts()}
    for model in models.values():
        model.predict_batch(text_sets["loadgen"][:64])  # warm-up: first-call allocations

    results: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    rows = []
    for set_name, texts in text_sets.items():
        for batch in BATCH_SIZES:
            # Batch size 1 is slow; a quarter of the texts keeps the run short.
            total = max(batch, args.texts // 4 if batch == 1 else args.texts)
            rates: dict[str, list[float]] = {b: [] for b in models}
            for _ in range(args.repeats):
                for backend, model in models.items():
                    calls = plans[backend].calls
                    rates[backend].append(measure(model, texts, batch, total, calls))
            for backend in models:
                results.setdefault(set_name, {}).setdefault(backend, {})[str(batch)] = {
                    "texts_per_s_median": median(rates[backend]),
                    "texts_per_s_min": round(min(rates[backend]), 2),
                    "texts_per_s_max": round(max(rates[backend]), 2),
                }
            ratio = statistics.median(rates["onnx"]) / statistics.median(rates["flair"])
            over_v1 = statistics.median(rates["onnx"]) / statistics.median(rates[V1])
            results[set_name].setdefault("onnx_over_flair", {})[str(batch)] = round(ratio, 2)
            results[set_name].setdefault("onnx_over_v1_flair_path", {})[str(batch)] = round(
                over_v1, 2
            )
            rows.append(
                (
                    set_name,
                    batch,
                    median(rates["onnx"]),
                    median(rates["flair"]),
                    median(rates[V1]),
                    round(ratio, 2),
                    round(over_v1, 2),
                )
            )
    scratch.cleanup()
    same_model = results["loadgen"]["onnx_over_flair"][str(service_batch)]
    headline = results["loadgen"]["onnx_over_v1_flair_path"][str(service_batch)]
    name, version = models["onnx"].name, models["onnx"].version
    print(f"\n{name} {version}: load seconds {load_seconds}")
    print(
        table(
            rows,
            (
                "texts",
                "batch",
                "onnx texts/s",
                "flair texts/s",
                "v1 flair path texts/s",
                "onnx/flair",
                "onnx/v1 flair path",
            ),
        )
    )
    print(
        f"at the analyzer's batch ({service_batch}), loadgen texts: onnx / v1 flair path "
        f"{headline:.2f}x (target 3x); onnx / flair, same model, {same_model:.2f}x"
    )
    write_result(
        "model_throughput",
        {
            "model": {"name": name, "version": version, "path": str(args.model)},
            "call_plans": {
                backend: {"calls": plan.calls, "threads_per_call": plan.threads}
                for backend, plan in plans.items()
            },
            "analyzer_batch_size": service_batch,
            "load_seconds": load_seconds,
            "mean_text_chars": {
                k: round(statistics.mean(map(len, v)), 1) for k, v in text_sets.items()
            },
            "results": results,
            "v1_flair_path": "flair TextClassifier over all six layers of all-MiniLM-L6-v2, "
            "mean pooling, untrained head (speed only)",
            "onnx_over_flair_at_analyzer_batch": same_model,
            "onnx_over_v1_flair_path_at_analyzer_batch": headline,
            "target": "onnx_over_v1_flair_path_at_analyzer_batch >= 3.0",
            "target_ratio": 3.0,
            "target_met": headline >= 3.0,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
