"""A throwaway RabbitMQ server (Debian's ``rabbitmq-server``) for tests and development.

Runs the server binary directly (not the init wrapper, which switches users) with
every port, file and the Erlang cookie inside a temporary directory, so several can
run side by side and nothing touches ``/var/lib/rabbitmq``::

    with RabbitMQServer(state_dir) as rabbit:
        connection = await aio_pika.connect(rabbit.url)

``stop()`` kills the node and its private ``epmd`` (started on a port of its own), so
no process outlives it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from moodstream_dev.broker import free_port

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
ERLANG_ROOT = Path("/usr/lib/erlang")


class RabbitMQUnavailable(RuntimeError):
    """rabbitmq-server is not installed or did not start."""


def _epmd() -> Path:
    found = sorted(ERLANG_ROOT.glob("erts-*/bin/epmd"))
    if not found:
        raise RabbitMQUnavailable("epmd not found: is erlang installed?")
    return found[-1]


class RabbitMQServer:
    """One RabbitMQ node on 127.0.0.1 with random ports and state in ``state_dir``."""

    def __init__(self, state_dir: Path, *, port: int | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.port = port or free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"moodstream-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = self.state_dir / "rabbitmq.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """AMQP URL (guest may connect from loopback)."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        base = self.state_dir
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "log.console = true\nlog.file = false\n"
        )
        return {
            **os.environ,
            "HOME": str(base),  # the Erlang cookie lives here
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(base / "plugins-expand"),
        }

    def start(self, timeout: float = 60.0) -> RabbitMQServer:
        """Start the node and wait until its AMQP port accepts connections."""
        if not SERVER.exists():
            raise RabbitMQUnavailable(
                f"{SERVER} missing: run scripts/install_system_packages.sh "
                "(apt-get install rabbitmq-server)"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(SERVER)],
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RabbitMQUnavailable(f"rabbitmq-server exited; see {self.log_path}")
            if "Server startup complete" in self.log_path.read_text(errors="replace"):
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return self
                except OSError:
                    pass
            time.sleep(0.3)
        self.stop()
        raise RabbitMQUnavailable(
            f"rabbitmq-server not ready in {timeout:.0f}s; see {self.log_path}"
        )

    def stop(self) -> None:
        """Kill the node's process group and its epmd."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=30)
        # epmd daemonizes out of the process group; it refuses -kill while it still
        # counts the dead node as registered, so ask a few times.
        for _ in range(10):
            done = subprocess.run(
                [str(_epmd()), "-port", str(self.epmd_port), "-kill"],
                capture_output=True,
                check=False,
                text=True,
            )
            if "Killed" in done.stdout or "Cannot connect" in done.stdout + done.stderr:
                return
            time.sleep(0.3)

    def __enter__(self) -> RabbitMQServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
