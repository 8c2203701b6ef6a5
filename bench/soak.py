"""Soak: the whole pipeline at a steady rate for a long run, with the RSS of each service
sampled over time, optional crashes (SIGKILL) of the analyzer and aggregator, and a
final check that the aggregates equal the expected ones (nothing lost or double counted).

    python -m bench.soak [--minutes 10] [--rate 50] [--chaos-every 120]
    python -m bench.soak --minutes 15 --rate 40 --short-retention   # show the RSS plateau

``--short-retention`` keeps 2 min of per-message state and of per-second windows and
5 minute windows, and has the load generator delete and replace only recent messages
(inside that retention), so state stops growing within minutes and the final count is
still exact.

Writes bench/results/soak.json (the RSS curve and the verdict) and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import psutil

from bench.common import table, write_result
from bench.pipeline import _start
from moodstream_common import topics
from moodstream_dev.broker import EmbeddedBroker
from moodstream_dev.loadgen import LoadConfig, expected_live
from moodstream_dev.loadgen import run as run_loadgen
from tests.helpers import group_caught_up

ANALYZER_RSS_TARGET_MB = 400
"""The analyzer's RSS after the run (issue 15: 10 minutes at load, ONNX backend)."""


def _rss_mb(service) -> float:
    try:
        return psutil.Process(service.process.pid).memory_info().rss / 1e6
    except (psutil.Error, AttributeError):
        return 0.0


def main() -> None:
    """Run the soak and write bench/results/soak.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=50.0, help="messages/s")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds")
    parser.add_argument(
        "--chaos-every",
        type=float,
        default=0.0,
        help="SIGKILL analyzer/aggregator in turn every N seconds (0: never)",
    )
    parser.add_argument(
        "--short-retention",
        action="store_true",
        help="2 min message/second-window retention, 5 minute windows (see above)",
    )
    parser.add_argument("--result-name", default="soak", help="bench/results/<name>.json")
    parser.add_argument("--backend", default="onnx", help="ANALYZER_BACKEND (onnx or flair)")
    args = parser.parse_args()
    retention_env = (
        {
            "AGGREGATOR_MESSAGE_RETENTION_SECONDS": "120",
            "AGGREGATOR_SECOND_WINDOWS_RETAINED": "120",
            "AGGREGATOR_MINUTE_WINDOWS_RETAINED": "5",
            "AGGREGATOR_EXPIRY_INTERVAL_SECONDS": "5",
        }
        if args.short_retention
        else {}
    )
    state = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    count = int(args.rate * args.minutes * 60)
    prefix = f"soak{uuid.uuid4().hex[:6]}-"
    curve: list[dict[str, float]] = []
    kills: list[dict[str, object]] = []
    with EmbeddedBroker(log_path=state / "broker.log") as broker:
        services = _start(broker, state, prefix, analyzers=1,
                          extra_env={**retention_env, "ANALYZER_BACKEND": args.backend})
        try:
            config = LoadConfig(
                count=count,
                rate=args.rate,
                via="http",
                ingest_url=services["ingest"].url,
                seed=3,
                id_prefix="soak",
                # ~12 s of new ids at 40 msg/s: well inside a 120 s message retention.
                recent=500 if args.short_retention else 0,
            )
            summary: dict[str, object] = {}
            sender = threading.Thread(
                target=lambda: summary.update(asyncio.run(run_loadgen(config)).as_json())
            )
            started = time.monotonic()
            sender.start()
            next_chaos = args.chaos_every or float("inf")
            victims = ["analyzer", "aggregator"]
            while sender.is_alive():
                elapsed = time.monotonic() - started
                curve.append(
                    {
                        "t": round(elapsed, 1),
                        **{name: round(_rss_mb(s), 1) for name, s in services.items()},
                    }
                )
                if elapsed >= next_chaos:
                    victim = victims[len(kills) % 2]
                    services[victim].signal(signal.SIGKILL)
                    services[victim].process.wait(timeout=30)
                    services[victim].start()
                    ready = services[victim].wait_ready(120)
                    kills.append(
                        {
                            "t": round(elapsed, 1),
                            "service": victim,
                            "ready_after_s": round(ready, 1),
                        }
                    )
                    next_chaos += args.chaos_every
                time.sleep(args.sample_every)
            group_caught_up(
                broker.bootstrap,
                f"{prefix}moodstream-analyzer-raw",
                topics.RAW.name(prefix),
                timeout=600,
            )
            group_caught_up(
                broker.bootstrap,
                f"{prefix}moodstream-aggregator",
                topics.SCORED.name(prefix),
                timeout=600,
            )
            totals = httpx.get(f"{services['aggregator'].url}/v1/totals", timeout=10).json()
        finally:
            for service in services.values():
                service.stop()
    expected = expected_live(config)
    half = [point for point in curve if point["t"] >= curve[-1]["t"] / 2]
    report = {}
    for name in services:
        values = [point[name] for point in curve]
        slope = (
            (half[-1][name] - half[0][name]) / ((half[-1]["t"] - half[0]["t"]) / 60)
            if len(half) > 1 and half[-1]["t"] > half[0]["t"]
            else 0.0
        )
        report[name] = {
            "start_mb": values[0],
            "max_mb": max(values),
            "end_mb": values[-1],
            "second_half_slope_mb_per_min": round(slope, 2),
        }
    result = {
        "minutes": args.minutes,
        "rate": args.rate,
        "backend": args.backend,
        "analyzer_end_rss_mb": report["analyzer"]["end_mb"],
        "analyzer_rss_target_mb": ANALYZER_RSS_TARGET_MB,
        "analyzer_rss_target_met": report["analyzer"]["end_mb"] <= ANALYZER_RSS_TARGET_MB,
        "retention": retention_env or "defaults",
        "sent": summary.get("sent"),
        "errors": summary.get("errors"),
        "expected_live": expected,
        "aggregated_total": totals["total"],
        "correct": totals["total"] == expected,
        "kills": kills,
        "rss": report,
        "curve": curve,
    }
    print(
        table(
            [
                (n, r["start_mb"], r["max_mb"], r["end_mb"], r["second_half_slope_mb_per_min"])
                for n, r in report.items()
            ],
            ("service", "RSS start MB", "max MB", "end MB", "MB/min, 2nd half"),
        )
    )
    print(
        f"aggregates: {totals['total']} live messages, expected {expected}: "
        f"{'OK' if result['correct'] else 'MISMATCH'}; kills: {len(kills)}"
    )
    print(f"analyzer ({args.backend}) RSS at the end: {report['analyzer']['end_mb']} MB "
          f"(target <= {ANALYZER_RSS_TARGET_MB} MB)")
    write_result(args.result_name, result)


if __name__ == "__main__":
    main()
