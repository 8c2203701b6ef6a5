"""Texts/s of the sentiment model alone (no broker, no Faust) at several batch sizes.

    python -m bench.model_throughput [--model models/sentiment-flair-v1] [--repeats 5]

Texts are real tweets (the CrowdFlower corpus, cleaned as the service cleans them),
cycled to fill each run. Each figure is the median of ``--repeats`` timed runs after
one warm-up batch; the batch is what the analyzer hands ``predict_batch``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from bench.common import median, table, write_result
from moodstream_analyzer.data import load_crowdflower
from moodstream_analyzer.model import FlairSentimentModel

BATCH_SIZES = (1, 32, 128)


def measure(model: FlairSentimentModel, texts: list[str], batch: int, total: int) -> float:
    """Texts/s scoring ``total`` texts in batches of ``batch``."""
    pool = itertools.cycle(texts)
    batches = [[next(pool) for _ in range(batch)] for _ in range(max(1, total // batch))]
    started = time.perf_counter()
    for chunk in batches:
        model.predict_batch(chunk)
    return sum(map(len, batches)) / (time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print a table, write ``bench/results/model_throughput.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/sentiment-flair-v1"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--texts", type=int, default=384, help="texts per timed run")
    parser.add_argument("--torch-threads", type=int, default=0, help="0 = torch default")
    args = parser.parse_args(argv)

    model = FlairSentimentModel(args.model, torch_threads=args.torch_threads)
    load_started = time.perf_counter()
    model.load()
    load_seconds = time.perf_counter() - load_started
    texts = [e.text for e in load_crowdflower().examples[:2000]]
    model.predict_batch(texts[:32])  # warm-up: first-call allocations

    rows = []
    results = {}
    for batch in BATCH_SIZES:
        # Batch size 1 is slow; a quarter of the texts keeps the run short.
        total = max(batch, args.texts // 4 if batch == 1 else args.texts)
        rates = [measure(model, texts, batch, total) for _ in range(args.repeats)]
        results[str(batch)] = {
            "texts_per_s_median": median(rates),
            "texts_per_s_min": round(min(rates), 2),
            "texts_per_s_max": round(max(rates), 2),
            "ms_per_batch_median": round(1000 * batch / statistics.median(rates), 2),
            "texts_per_run": total,
            "repeats": args.repeats,
        }
        rows.append(
            (
                batch,
                median(rates),
                round(min(rates), 1),
                round(max(rates), 1),
                results[str(batch)]["ms_per_batch_median"],
            )
        )
    print(
        f"\n{model.name} {model.version}: load {load_seconds:.1f} s, "
        f"torch threads {torch.get_num_threads()}, mean text length "
        f"{statistics.mean(map(len, texts)):.0f} chars"
    )
    print(table(rows, ("batch", "texts/s (median)", "min", "max", "ms/batch")))
    write_result(
        "model_throughput",
        {
            "model": {"name": model.name, "version": model.version, "path": str(args.model)},
            "torch_threads": torch.get_num_threads(),
            "load_seconds": round(load_seconds, 2),
            "mean_text_chars": round(statistics.mean(map(len, texts)), 1),
            "batch_sizes": results,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
