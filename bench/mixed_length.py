"""One long text in a batch of short ones: model-call time with and without length groups.

    python -m bench.mixed_length [--model models/sentiment-v2] [--backend onnx] [--repeats 5]

A model call pads every text to the longest, so one 2,000-character text among 63
tweets used to make the whole batch pay for its length. The analyzer now groups a
batch by length (``ANALYZER_TOKEN_BUDGET``). This times ``predict_batch`` on batches of
64 real tweets, clean and with one long text, with the grouping (the service's default
budget) and without it (a budget so large that everything is one call, as before).
Each figure is the median of ``--repeats`` calls after a warm-up call. Both backends
cut a text at the model's ``max_sequence_tokens`` (128), which bounds what one long text
costs; the grouping keeps even that from being paid by the 63 short ones.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import median, table, write_result
from moodstream_analyzer.model import (
    BACKENDS,
    DEFAULT_MODEL_DIR,
    DEFAULT_TOKEN_BUDGET,
    SentimentModel,
    load_model,
)
from moodstream_analyzer.text import MAX_SCORING_CHARS, clean_for_scoring
from moodstream_model.data import load_crowdflower

BATCH = 64
UNGROUPED_BUDGET = 10**9


def _seconds_per_call(model: SentimentModel, texts: list[str], repeats: int) -> list[float]:
    model.predict_batch(texts)  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict_batch(texts)
        times.append(time.perf_counter() - started)
    return times


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print a table, write ``bench/results/mixed_length.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--backend", choices=BACKENDS, default=BACKENDS[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    tweets = [clean_for_scoring(e.text) for e in load_crowdflower().examples[:BATCH]]
    long_text = clean_for_scoring(" ".join(tweets) * 3)[:MAX_SCORING_CHARS]
    batches = {"clean": tweets, "one_long": tweets[:-1] + [long_text]}
    models = {
        "grouped": load_model(args.model, backend=args.backend, token_budget=DEFAULT_TOKEN_BUDGET),
        "one_call": load_model(args.model, backend=args.backend, token_budget=UNGROUPED_BUDGET),
    }
    results: dict[str, dict[str, float]] = {}
    rows = []
    for mode, model in models.items():
        for name, texts in batches.items():
            times = _seconds_per_call(model, texts, args.repeats)
            results[f"{mode}/{name}"] = {
                "seconds_median": round(statistics.median(times), 3),
                "texts_per_s_median": median([len(texts) / t for t in times]),
            }
            rows.append((mode, name, round(statistics.median(times), 3),
                         results[f"{mode}/{name}"]["texts_per_s_median"]))
    slowdown = {
        mode: round(
            results[f"{mode}/one_long"]["seconds_median"]
            / results[f"{mode}/clean"]["seconds_median"],
            2,
        )
        for mode in models
    }
    print(table(rows, ("model calls", "batch", "s per batch (median)", "texts/s")))
    print(f"long text slowdown (one_long / clean): {slowdown}")
    print(f"long text: {len(long_text)} chars; batch {BATCH}; budget {DEFAULT_TOKEN_BUDGET}")
    write_result(
        "mixed_length",
        {
            "backend": args.backend,
            "batch": BATCH,
            "long_text_chars": len(long_text),
            "token_budget": DEFAULT_TOKEN_BUDGET,
            "repeats": args.repeats,
            "results": results,
            "long_text_slowdown": slowdown,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
