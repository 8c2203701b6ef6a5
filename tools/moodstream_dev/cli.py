"""``moodstream``: operator commands (load generation, replay, the embedded broker)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path


def _loadgen(args: argparse.Namespace) -> int:
    from moodstream_dev.loadgen import load_config, run

    config = load_config(
        args.config,
        {
            "count": args.count,
            "rate": args.rate,
            "update_ratio": args.update_ratio,
            "via": args.via,
            "ingest_url": args.ingest_url,
            "bootstrap": args.bootstrap,
            "topic": args.topic,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "id_prefix": args.id_prefix,
        },
    )
    summary = asyncio.run(run(config, progress=not args.quiet))
    report = summary.as_json()
    print(
        f"sent {summary.sent} ({summary.updates} updates, {summary.deletes} deletes) in "
        f"{summary.seconds:.1f}s = {summary.per_second:.0f} msg/s; errors {summary.errors}, "
        f"rejected {summary.rejected}; live messages expected: {summary.live_messages}"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if summary.errors else 0


SOURCE_TOPIC = {"ingest": "events", "analyzer": "raw", "aggregator": "scored"}


def _replay(args: argparse.Namespace) -> int:
    from moodstream_common import broker_compat, topics
    from moodstream_common.settings import BrokerSettings
    from moodstream_dev import replay

    settings = BrokerSettings()
    broker_compat.apply(settings.broker_flavor)
    bootstrap = args.bootstrap or settings.bootstrap_servers
    group = settings.input_group(args.service)
    base = args.topic or SOURCE_TOPIC[args.service]
    topic = topics.topic_name(base, settings.topic_prefix)

    async def _run() -> int:
        try:
            await replay.ensure_group_stopped(bootstrap, group)
            planned = await replay.plan(bootstrap, group, topic, args.start_at)
        except replay.ReplayError as exc:
            print(f"replay refused: {exc}", file=sys.stderr)
            return 2
        for partition in sorted(planned.start):
            print(
                f"  {topic}[{partition}]: restart at {planned.start[partition]} "
                f"(end {planned.end[partition]})"
            )
        print(f"{planned.records} records of {topic} will be reprocessed by group {group}")
        if args.dry_run:
            return 0
        await replay.commit(bootstrap, planned)
        print(f"offsets committed; start (or restart) the {args.service} service now")
        if args.follow:
            done = await replay.follow(bootstrap, planned, args.follow_timeout)
            print(f"replay summary: {done}/{planned.records} records reprocessed")
            return 0 if done >= planned.records else 1
        return 0

    return asyncio.run(_run())


def _dead_letters(args: argparse.Namespace) -> int:
    from moodstream_common import broker_compat, topics
    from moodstream_common.settings import BrokerSettings
    from moodstream_dev import deadletters

    settings = BrokerSettings()
    broker_compat.apply(settings.broker_flavor)
    bootstrap = args.bootstrap or settings.bootstrap_servers
    entries = asyncio.run(deadletters.read_all(bootstrap, settings.topic(topics.DEAD_LETTERS)))
    chosen = list(deadletters.select(entries, args.reason, args.source))
    print(json.dumps(deadletters.summary(chosen), indent=2))
    if args.action == "show":
        for entry in chosen[-args.last :]:
            letter = entry.letter
            print(
                f"[{entry.partition}:{entry.offset}] {letter.get('reason')} "
                f"({letter.get('source')}): {letter.get('detail')}\n"
                f"    {str(letter.get('original_preview', ''))[:120]!r}"
            )
        return 0
    events = settings.topic(topics.EVENTS)
    sent = asyncio.run(deadletters.replay(bootstrap, chosen, events, progress=not args.quiet))
    print(f"replayed {sent} dead letters to {events}")
    return 0


def _broker(args: argparse.Namespace) -> int:
    from moodstream_dev.broker import main as broker_main

    return int(broker_main(["--port", str(args.port)]) or 0)


def build_parser() -> argparse.ArgumentParser:
    """The ``moodstream`` argument parser."""
    parser = argparse.ArgumentParser(prog="moodstream", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    loadgen = commands.add_parser("loadgen", help="send update/delete events")
    loadgen.add_argument("--config", type=Path, help="YAML file with LoadConfig fields")
    loadgen.add_argument("--count", type=int)
    loadgen.add_argument("--rate", type=float, help="events/s; 0 = as fast as possible")
    loadgen.add_argument("--update-ratio", type=float)
    loadgen.add_argument("--via", choices=("http", "topic"))
    loadgen.add_argument("--ingest-url")
    loadgen.add_argument("--bootstrap", help="host:port of the broker (--via topic)")
    loadgen.add_argument("--topic", help="input topic (--via topic)")
    loadgen.add_argument("--batch-size", type=int)
    loadgen.add_argument("--seed", type=int)
    loadgen.add_argument("--id-prefix")
    loadgen.add_argument("--json", type=Path, help="write the summary here")
    loadgen.add_argument("--quiet", action="store_true", help="no progress bar")
    loadgen.set_defaults(func=_loadgen)

    replay = commands.add_parser("replay", help="reprocess a topic from an offset or a time")
    replay.add_argument("--service", required=True, choices=sorted(SOURCE_TOPIC))
    replay.add_argument("--topic", help="base topic name (default: the service's source)")
    replay.add_argument(
        "--from",
        dest="start_at",
        required=True,
        help="earliest | latest | offset:N | ISO-8601 time | epoch seconds",
    )
    replay.add_argument("--bootstrap", help="host:port (default from MOODSTREAM_BROKER_URL)")
    replay.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    replay.add_argument("--follow", action="store_true", help="show progress until caught up")
    replay.add_argument("--follow-timeout", type=float, default=600.0)
    replay.set_defaults(func=_replay)

    dead = commands.add_parser("dead-letters", help="inspect or replay the dead-letter topic")
    dead.add_argument("action", choices=("show", "replay"))
    dead.add_argument("--reason", help="only this rejection reason")
    dead.add_argument("--source", help="only sources starting with this (http, topic:...)")
    dead.add_argument("--last", type=int, default=20, help="show: how many records to print")
    dead.add_argument("--bootstrap", help="host:port (default from MOODSTREAM_BROKER_URL)")
    dead.add_argument("--quiet", action="store_true", help="no progress bar")
    dead.set_defaults(func=_dead_letters)

    broker = commands.add_parser("broker", help="run the embedded broker in the foreground")
    broker.add_argument("--port", type=int, default=9092)
    broker.set_defaults(func=_broker)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``moodstream`` command."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
