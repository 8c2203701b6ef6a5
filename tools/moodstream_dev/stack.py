"""``make run``: the embedded broker plus the three services, with a demo stream.

Starts Tansu on loopback (or, with ``--broker kafka``, ``make run BROKER=kafka``, an Apache
Kafka cluster of :mod:`moodstream_dev.kafka` whose data stays in ``var/kafka``), creates the
topics, starts ingest, analyzer and aggregator
as separate processes, waits until each is ready, posts a small demo stream, prints
where to look, and on Ctrl-C (or SIGTERM) stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import httpx

from moodstream_common import topics
from moodstream_dev.broker import Broker, EmbeddedBroker, create_topics
from moodstream_dev.demo import demo_events
from moodstream_dev.kafka import KafkaCluster, KafkaUnavailable
from moodstream_dev.loadgen import LoadConfig
from moodstream_dev.loadgen import run as run_loadgen
from moodstream_dev.processes import DEFAULT_PORTS, SERVICES, ServiceProcess, service_env
from moodstream_dev.rabbitmq import RabbitMQServer

# The example rules (also the compose stack's); AGGREGATOR_ALERT_RULES overrides them.
ALERT_RULES = Path(__file__).resolve().parents[2] / "infra" / "alert-rules.yaml"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--broker-port", type=int, default=9092)
    parser.add_argument(
        "--broker",
        choices=("embedded", "kafka"),
        default="embedded",
        help="embedded: Tansu, in memory, starts in a second; kafka: Apache Kafka from its "
        "jars (needs Java 17+), data kept in <state>/kafka (make run BROKER=kafka)",
    )
    parser.add_argument("--kafka-nodes", type=int, choices=(1, 3), default=1)
    parser.add_argument("--state", type=Path, default=Path("var"), help="state and logs folder")
    parser.add_argument("--no-demo", action="store_true", help="do not post the demo stream")
    parser.add_argument(
        "--demo-rate",
        type=float,
        default=3.0,
        help="after the demo, keep sending this many messages/s so the dashboard moves (0: off)",
    )
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.add_argument(
        "--amqp",
        action="store_true",
        help="also start a private RabbitMQ node and ingest's AMQP bridge (make run AMQP=1)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the stack in the foreground until interrupted."""
    args = _parse(argv)
    logs = args.state / "log"
    stopping = False

    def _request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _request_stop)
    broker: EmbeddedBroker | KafkaCluster
    if args.broker == "kafka":
        kafka_root = args.state / "kafka" / f"{args.kafka_nodes}-node"
        # A new cluster holds no changelog, so table state from an earlier one would be
        # ahead of it: Faust refuses that. A cluster kept from an earlier run recovers it.
        fresh_broker = not (kafka_root / "cluster.id").exists()
        broker = KafkaCluster(kafka_root, nodes=args.kafka_nodes, port=args.broker_port)
    else:
        # The embedded broker starts empty (memory storage): the same reason.
        fresh_broker = True
        broker = EmbeddedBroker(port=args.broker_port, log_path=logs / "broker.log")
    rabbit = RabbitMQServer(args.state / "rabbitmq", port=5672) if args.amqp else None
    amqp_env = {"INGEST_AMQP_URL": rabbit.url} if rabbit else {}
    extra_env = {
        "ingest": amqp_env,
        "aggregator": {"AGGREGATOR_ALERT_RULES": os.environ.get("AGGREGATOR_ALERT_RULES",
                                                                str(ALERT_RULES))},
    }
    services = [
        ServiceProcess(
            name,
            DEFAULT_PORTS[name],
            service_env(
                name,
                broker=broker,
                port=DEFAULT_PORTS[name],
                data_dir=args.state / "state",
                extra=extra_env.get(name),
            ),
            logs / f"{name}.log",
        )
        for name in SERVICES
    ]
    if fresh_broker:
        shutil.rmtree(args.state / "state", ignore_errors=True)
    try:
        started = time.monotonic()
        try:
            broker.start()
        except KafkaUnavailable as exc:
            print(f"cannot start Kafka: {exc}", file=sys.stderr)
            return 1
        print(
            f"{'broker':<10} {_describe(broker)} ready at {broker.bootstrap}  "
            f"({time.monotonic() - started:.1f}s)",
            flush=True,
        )
        create_topics(broker.bootstrap, topics.ALL_TOPICS)
        if rabbit is not None:
            shutil.rmtree(rabbit.state_dir, ignore_errors=True)
            rabbit.start()
            print(f"{'rabbitmq':<10} ready at {rabbit.url}  (queues incoming_texts, "
                  "sentiment-analysis-queue -> processed_texts, failed_texts)", flush=True)
        for service in services:
            service.start()
        for service in services:
            waited = service.wait_ready(args.ready_timeout)
            print(f"{service.name:<10} ready at {service.url}  ({waited:.1f}s)", flush=True)
        if not args.no_demo:
            _post_demo(services[0].url)
            if args.demo_rate > 0:
                _trickle(services[0].url, args.demo_rate)
        _print_where_to_look(services, logs)
        while not stopping:
            for service in services:
                if service.process is not None and service.process.poll() is not None:
                    print(f"{service.name} exited; see {service.log_path}", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping…", flush=True)
        for service in reversed(services):
            service.stop()
        broker.stop()
        if rabbit is not None:
            rabbit.stop()
        print("stopped", flush=True)
    return 0


def _describe(broker: Broker) -> str:
    if isinstance(broker, KafkaCluster):
        count = len(broker.nodes)
        return f"Apache Kafka ({count} node{'s' if count > 1 else ''}, logs in {broker.root})"
    return "embedded (Tansu, in memory)"


def _post_demo(ingest_url: str) -> None:
    events = demo_events()
    response = httpx.post(f"{ingest_url}/v1/messages:batch", json=events, timeout=30)
    response.raise_for_status()
    print(f"demo     posted {response.json()['accepted']} events", flush=True)


def _trickle(ingest_url: str, rate: float) -> None:
    """Keep a slow, realistic stream going in the background (a daemon thread)."""
    config = LoadConfig(
        count=10_000_000,
        rate=rate,
        via="http",
        ingest_url=ingest_url,
        id_prefix="live",
        batch_size=1,
    )
    thread = threading.Thread(
        target=lambda: asyncio.run(run_loadgen(config, progress=False)), daemon=True
    )
    thread.start()
    print(f"demo     sending ~{rate:g} messages/s (--demo-rate 0 to stop)", flush=True)


def _print_where_to_look(services: list[ServiceProcess], logs: Path) -> None:
    ingest, _, aggregator = services
    print(
        f"""
Moodstream is running.
  dashboard        {aggregator.url}/dashboard
  sentiment views  {aggregator.url}/v1/sentiment/seconds?last=60
                   {aggregator.url}/v1/sentiment/minutes?last=30
                   {aggregator.url}/v1/totals   {aggregator.url}/v1/hashtags
  send a message   curl -XPOST {ingest.url}/v1/messages -d '{{"text": "I love it #demo"}}'
  API document     {ingest.url}/openapi.json
  logs             {logs}/
Ctrl-C stops everything.""",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
