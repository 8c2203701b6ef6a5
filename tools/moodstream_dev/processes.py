"""Start the three services as separate processes and wait until they answer.

Used by ``make run`` (:mod:`moodstream_dev.stack`) and by the end-to-end tests, so
both exercise the same start-up path.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from moodstream_dev.broker import Broker

SERVICES = ("ingest", "analyzer", "aggregator")
DEFAULT_PORTS = {"ingest": 8000, "analyzer": 8001, "aggregator": 8002}


# Every service this interpreter started, so a failing test can show their logs.
_STARTED: list[ServiceProcess] = []


def started_services() -> list[ServiceProcess]:
    """The services started by this interpreter so far, oldest first."""
    return list(_STARTED)


_LOWEST_PORT = 10_000
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    """The lowest port the kernel picks for outgoing connections (Linux; else 32768)."""
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago, below the ephemeral range.

    Not ``bind(0)``: that port comes from the range the kernel also gives outgoing
    connections, so between this call and the service's own bind another process's
    client socket (a service connecting to the broker) could take it, and the service
    then failed with "address already in use" (seen in ``bench.pipeline``). Below that
    range only a listener can collide, and each port is handed out once per process.
    """
    rng = random.SystemRandom()
    high = _ephemeral_low() - 1
    for _ in range(200):
        port = rng.randint(_LOWEST_PORT, high) if high > _LOWEST_PORT else 0
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = int(sock.getsockname()[1])
        _handed_out.add(port)
        return port
    raise RuntimeError("no free TCP port below the ephemeral range")


@dataclass
class ServiceProcess:
    """One service worker running as a child process in its own process group."""

    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        """Base URL of the service's HTTP server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Spawn ``python -m moodstream_<name>`` with output to ``log_path``."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"moodstream_{self.name}"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: a stop reaches its children too
        )
        log.close()
        _STARTED.append(self)

    @property
    def running(self) -> bool:
        """True while the child process has not exited."""
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        """True when ``/healthz`` answers 200."""
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def ready(self) -> bool:
        """True when ``/readyz`` answers 200 (partitions assigned, not rebalancing)."""
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float) -> float:
        """Block until ready; return seconds waited. Raises if it exits or times out."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}; see {self.log_path}"
                )
            if self.ready():
                return time.monotonic() - started
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout:.0f}s; see {self.log_path}")

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the service's process group."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signum)

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit code."""
        if self.process is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.process.wait(timeout=5)


def service_env(
    name: str,
    *,
    broker: Broker,
    port: int,
    data_dir: Path,
    topic_prefix: str = "",
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Environment for one service process on ``broker`` (embedded, or a Kafka cluster:
    its URL, flavor and replication factor come from :meth:`Broker.service_env`)."""
    env = dict(os.environ)
    env.update(broker.service_env())
    env.update(
        {
            "MOODSTREAM_TOPIC_PREFIX": topic_prefix,
            "MOODSTREAM_DATA_DIR": str(data_dir),
            f"{name.upper()}_WEB_PORT": str(port),
            "OTEL_SERVICE_NAME": name,
        }
    )
    env.update(extra or {})
    return env


def local_service(
    name: str,
    broker: Broker,
    state: Path,
    *,
    topic_prefix: str = "",
    extra: dict[str, str] | None = None,
) -> ServiceProcess:
    """Service ``name`` (not started) on a free port against ``broker``, its state
    in ``state`` and its log in ``state/<name>.log``."""
    port = free_port()
    env = service_env(name, broker=broker, port=port, data_dir=state,
                      topic_prefix=topic_prefix, extra=extra)
    return ServiceProcess(name, port, env, state / f"{name}.log")
