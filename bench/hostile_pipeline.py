"""Whole-pipeline rate with hostile texts among valid ones, with and without length groups.

    python -m bench.hostile_pipeline [--count 1500] [--hostile-share 0.2] [--repeats 3]

Hostile texts (tests/corpus/hostile.py: zalgo, emoji floods, control characters,
10,000-character texts...) pass validation and get scored like any other text, so
they reach the model. For each analyzer setting (the default token budget, and one
call per batch as before length grouping) this starts the three services on the
embedded broker and, ``--repeats`` times, posts ``--count`` updates in HTTP batches:
once all clean, once with ``--hostile-share`` of them hostile. Each rate is from the
first POST until the aggregator counts every message. Medians are reported, with the
hostile ÷ clean ratio per setting.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import median, table, write_result
from bench.pipeline import _start, _wait_total
from moodstream_analyzer.model import DEFAULT_TOKEN_BUDGET
from moodstream_dev.broker import EmbeddedBroker
from moodstream_dev.textmix import make_text
from tests.corpus.hostile import HOSTILE_TEXTS

BATCH = 200
SETTINGS = {"grouped": DEFAULT_TOKEN_BUDGET, "one_call": 10**9}


def _texts(count: int, hostile_share: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    hostile = iter(HOSTILE_TEXTS * (1 + int(count * hostile_share) // len(HOSTILE_TEXTS)))
    return [
        next(hostile) if rng.random() < hostile_share else make_text(rng)[0]
        for _ in range(count)
    ]


def _rate(ingest: str, aggregator: str, texts: list[str], run: str) -> float:
    base = httpx.get(f"{aggregator}/v1/totals", timeout=10).json()["total"]
    started = time.perf_counter()
    with httpx.Client(timeout=120) as client:
        for start in range(0, len(texts), BATCH):
            batch = [
                {"id": f"{run}_{i}", "text": text, "user_id": f"u{i % 40}"}
                for i, text in enumerate(texts[start : start + BATCH], start)
            ]
            # ASCII JSON: lone surrogates travel as \uXXXX escapes, as the corpus sends them.
            response = client.post(
                f"{ingest}/v1/messages:batch",
                content=json.dumps(batch).encode("ascii"),
                headers={"content-type": "application/json"},
            )
            response.raise_for_status()
    _wait_total(aggregator, base + len(texts))
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    """Measure, print a table, write ``bench/results/hostile_pipeline.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_500)
    parser.add_argument("--hostile-share", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="bench-hostile-pipeline-"))
    results: dict[str, dict[str, float]] = {}
    with EmbeddedBroker(log_path=state / "broker.log") as broker:
        for name, budget in SETTINGS.items():
            services = _start(
                broker, state, f"hp{name}-", 1, {"ANALYZER_TOKEN_BUDGET": str(budget)}
            )
            ingest, aggregator = services["ingest"].url, services["aggregator"].url
            try:
                rates: dict[str, list[float]] = {"clean": [], "hostile": []}
                for repeat in range(args.repeats):
                    for mix, share in (("clean", 0.0), ("hostile", args.hostile_share)):
                        texts = _texts(args.count, share, seed=repeat)
                        rate = _rate(ingest, aggregator, texts, f"{name}{mix}{repeat}")
                        rates[mix].append(rate)
                        print(f"{name} {mix} #{repeat + 1}: {rate:.1f} msg/s", flush=True)
            finally:
                for service in services.values():
                    service.stop()
            results[name] = {
                "clean_msgs_per_s": median(rates["clean"]),
                "hostile_msgs_per_s": median(rates["hostile"]),
                "hostile_over_clean": round(
                    statistics.median(rates["hostile"]) / statistics.median(rates["clean"]), 2
                ),
            }
    rows = [
        (name, r["clean_msgs_per_s"], r["hostile_msgs_per_s"], r["hostile_over_clean"])
        for name, r in results.items()
    ]
    print(table(rows, ("model calls", "clean msg/s", "hostile msg/s", "hostile ÷ clean")))
    write_result(
        "hostile_pipeline",
        {
            "count": args.count,
            "hostile_share": args.hostile_share,
            "repeats": args.repeats,
            "batch": BATCH,
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
