"""The three services as real processes on the session's embedded broker."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from moodstream_analyzer.model import DEFAULT_MODEL_DIR
from moodstream_common import topics
from moodstream_dev.broker import create_topics
from moodstream_dev.processes import SERVICES, ServiceProcess, free_port, service_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MODEL_PATH = Path(os.environ.get("ANALYZER_MODEL_PATH", DEFAULT_MODEL_DIR)).resolve()


def start_another(service: ServiceProcess, state: Path, *, timeout: float = 90) -> ServiceProcess:
    """A second worker like ``service`` (same env and group, own port and state), ready."""
    port = free_port()
    other = ServiceProcess(
        service.name,
        port,
        {**service.env, f"{service.name.upper()}_WEB_PORT": str(port),
         "MOODSTREAM_DATA_DIR": str(state)},
        state / f"{service.name}-2.log",
    )
    other.start()
    try:
        other.wait_ready(timeout)
    except BaseException:
        other.stop()
        raise
    return other


@pytest.fixture(autouse=True)
def _services_keep_their_rocksdb_stores():
    """Services started here inherit this process's environment. A store override
    leaking from a unit test would quietly run every e2e aggregator on memory://
    (it did, in full runs, until the aggregator's unit conftest stopped leaking it)."""
    store = os.environ.get("AGGREGATOR_STORE", "rocksdb://")
    assert store.startswith("rocksdb"), f"AGGREGATOR_STORE={store} leaked into the e2e tests"


@pytest.fixture(scope="module")
def stack_prefix():
    """Topic and group prefix of this module's stack."""
    return f"e2e{uuid.uuid4().hex[:8]}-"


@pytest.fixture(scope="module")
def stack_env():
    """Extra environment for every service of this module's stack (override per module)."""
    return {}


@pytest.fixture(scope="module")
def stack(broker, tmp_path_factory, stack_prefix, stack_env):
    """ingest, analyzer and aggregator started on unique topics; stopped afterwards."""
    prefix = stack_prefix
    state = tmp_path_factory.mktemp("stack")
    create_topics(broker.bootstrap, topics.ALL_TOPICS, prefix=prefix)
    services = {}
    for name in SERVICES:
        port = free_port()
        env = service_env(
            name,
            broker=broker,
            port=port,
            data_dir=state / "state",
            topic_prefix=prefix,
            extra={
                "ANALYZER_MODEL_PATH": str(MODEL_PATH),
                "MOODSTREAM_TRACE_FILE": str(state / f"traces-{name}.jsonl"),
                **stack_env,
            },
        )
        services[name] = ServiceProcess(name, port, env, state / "log" / f"{name}.log")
    try:
        for service in services.values():
            service.start()
        for service in services.values():
            service.wait_ready(timeout=90)
        yield services
    finally:
        for service in services.values():
            service.stop()


@pytest.fixture()
def busy_cpu():
    """Two ``nice -n 19`` busy loops (one per core here) for the length of a test."""
    loops = [
        subprocess.Popen(["nice", "-n", "19", "sh", "-c", "while :; do :; done"])
        for _ in range(2)
    ]
    yield
    for loop in loops:
        loop.kill()
        loop.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, for the whole module."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: run scripts/install_system_packages.sh")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser: Browser):
    """A fresh page that records console errors and every URL it requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.problems = []  # type: ignore[attr-defined]  # set on the page by the conftest fixture
    page.requested = []  # type: ignore[attr-defined]  # set on the page by the conftest fixture
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("request", lambda r: page.requested.append(r.url))
    yield page
    context.close()
