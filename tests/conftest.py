"""Shared fixtures: the real brokers, each started once per session.

- ``broker``: what the integration and end-to-end tests run on, a 3-node Apache Kafka
  cluster (replication factor 3, ``min.insync.replicas=2``, idempotent ``acks=all``
  producers), as production runs. Where Kafka cannot run (no Java 17+), the embedded
  broker stands in and the run ends with one line saying so; ``MOODSTREAM_REQUIRE_KAFKA=1``
  (``.ci/run`` sets it) makes that an error instead.
- ``embedded_broker``: Tansu, in memory, for the tests of its workarounds and of
  ``make run``'s default; a module takes it by overriding ``broker``.
- ``kafka_cluster``: the Kafka cluster itself, for the tests only a real cluster can run
  (broker failures, librdkafka clients); skipped, with the reason, where Kafka cannot run.

Each test isolates itself with its own topic prefix (and so its own topics and groups).
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from moodstream_dev import kafka
from moodstream_dev.broker import Broker, EmbeddedBroker
from moodstream_dev.kafka import KafkaCluster
from moodstream_dev.processes import started_services
from moodstream_dev.rabbitmq import RabbitMQServer

_KAFKA_SKIPPED: list[str] = []
SCRAM_USER = "moodstream"
"""The SCRAM-SHA-256 user of the session's Kafka cluster (its password is random)."""


def _kafka_unavailable() -> str | None:
    reason = kafka.unavailable_reason()
    if reason and os.environ.get("MOODSTREAM_REQUIRE_KAFKA") == "1":
        pytest.fail(f"MOODSTREAM_REQUIRE_KAFKA=1 but Kafka cannot run here: {reason}")
    if reason and not _KAFKA_SKIPPED:
        _KAFKA_SKIPPED.append(reason)
    return reason


@pytest.fixture(scope="session")
def embedded_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """The embedded broker on a free loopback port, started once per session."""
    log_path = tmp_path_factory.mktemp("broker") / "broker.log"
    with EmbeddedBroker(log_path=log_path) as running:
        yield running


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Three Apache Kafka nodes on loopback, started once per session (skipped, with the
    reason, where Kafka cannot run)."""
    reason = _kafka_unavailable()
    if reason:
        pytest.skip(f"Kafka part skipped: {reason}")
    # A SASL/SCRAM listener beside the plaintext one, with a password made for this run.
    users = {SCRAM_USER: secrets.token_urlsafe(18)}
    with KafkaCluster(tmp_path_factory.mktemp("kafka"), nodes=3, scram_users=users) as running:
        yield running


@pytest.fixture(scope="session")
def broker(request: pytest.FixtureRequest) -> Broker:
    """The broker the integration and end-to-end tests run on: the Kafka cluster, or the
    embedded broker where Kafka cannot run."""
    if _kafka_unavailable():
        return request.getfixturevalue("embedded_broker")
    return request.getfixturevalue("kafka_cluster")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say once, at the end, that the Kafka part did not run and why."""
    for reason in _KAFKA_SKIPPED:
        terminalreporter.write_line(
            f"Kafka part skipped: {reason}. The integration and end-to-end tests ran on the "
            "embedded broker instead, and the tests only a Kafka cluster can run were "
            "skipped. Install Java 17+ and Maven to run them.",
            yellow=True,
        )


@pytest.fixture
def topic_prefix() -> str:
    """A prefix no other test uses, e.g. ``t1a2b3c4d-``, for topics and group ids."""
    return f"t{uuid.uuid4().hex[:8]}-"


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQServer]:
    """A real RabbitMQ node (Debian's rabbitmq-server), started once when first asked for.

    Tests isolate themselves with queue names of their own.
    """
    with RabbitMQServer(tmp_path_factory.mktemp("rabbitmq")) as running:
        yield running


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failure, attach a digest of each involved service's log to the report.

    A CI run keeps only pytest's output: without this, a failed end-to-end test says
    what went wrong but not why. "Involved" means started during the test, or still
    running from a fixture.
    """
    if call.when == "setup":
        item.stash[_SERVICES_BEFORE] = len(started_services())
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    before = item.stash.get(_SERVICES_BEFORE, 0)
    shown: set[str] = set()
    for index, service in enumerate(started_services()):
        if (index >= before or service.running) and str(service.log_path) not in shown:
            shown.add(str(service.log_path))  # a restarted service appends to one log
            report.sections.append((f"{service.name} log {service.log_path}",
                                    _log_digest(service.log_path)))


def _log_digest(path: Path, lines: int = 30) -> str:
    """Warnings and errors of the whole log, then its last lines (Faust's banner
    tables crowd out everything else in a plain tail)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log)"
    alarms = [line for line in text if "WARNING" in line or "ERROR" in line]
    return "\n".join(["-- warnings and errors --", *alarms[-lines:],
                      f"-- last {lines} lines --", *text[-lines:]])


_SERVICES_BEFORE = pytest.StashKey[int]()
