"""Shared fixtures: the real embedded broker (Tansu, in-memory storage), one per session.

One broker serves the whole test session; each test isolates itself with its own
topic prefix (and so its own topics and consumer groups).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from moodstream_dev.broker import EmbeddedBroker
from moodstream_dev.processes import started_services
from moodstream_dev.rabbitmq import RabbitMQServer


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """The embedded broker on a free loopback port, started once per session."""
    log_path = tmp_path_factory.mktemp("broker") / "broker.log"
    with EmbeddedBroker(log_path=log_path) as running:
        yield running


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
