"""A real Apache Kafka cluster (KRaft, no ZooKeeper) on loopback, for development and tests.

Production runs on Redpanda or Kafka; this starts Apache Kafka's own broker from its jars,
so the ``kafka`` flavor (no :mod:`moodstream_common.broker_compat` workaround) is exercised
on the real thing. One node or three, each a combined broker and controller:

- The pinned release's jars come from Maven Central once per machine, into
  ``~/.cache/moodstream/kafka/<version>/libs`` (``MOODSTREAM_KAFKA_CACHE`` moves it).
- Each node gets its own folder (``server.properties``, data, log) under ``root``; storage
  is formatted once, so a cluster started again on the same ``root`` keeps its topics.
- Three nodes run as Kafka is run in production: replication factor 3 by default,
  ``min.insync.replicas=2``, so an ``acks=all`` write survives one node's loss.
- ``scram_users`` adds a SASL_PLAINTEXT listener (SCRAM-SHA-256) with those users.

``python -m moodstream_dev.kafka [--nodes 3] [--port 9092]`` (``make kafka``) runs one in the
foreground. Java 17 or newer and Maven are needed; :func:`unavailable_reason` says what is
missing in one line.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from moodstream_dev.broker import (
    HOST,
    BrokerStartError,
    _port_in_use,
    _run_sync,
    serve_in_foreground,
)

# Below the ephemeral range: a node restarted after a kill must get its port back, and an
# ephemeral port may meanwhile be some client's outgoing connection.
from moodstream_dev.processes import free_port

KAFKA_VERSION = "4.4.0"
"""The Apache Kafka release the launcher runs (the newest 4.x on Maven Central)."""

SLF4J_VERSION = "2.0.17"
LOG4J_VERSION = "2.24.3"
MIN_JAVA = 17

FLAVOR = "kafka"
"""What services are told (``MOODSTREAM_BROKER_FLAVOR``): no embedded-broker workaround."""

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>moodstream</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version></dependency>
    <!-- Kafka logs through SLF4J 2 to Log4j 2, as its release tarball does; Maven alone
         would pick an SLF4J 1 API that cannot find the binding. -->
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId>
      <version>{slf4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
</project>
"""

_LOG4J2 = """status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
"""


class KafkaUnavailable(RuntimeError):
    """Kafka cannot run on this machine (no Java 17+, no Maven, jars not fetched)."""


def cache_dir() -> Path:
    """Where the pinned release's jars live (``MOODSTREAM_KAFKA_CACHE`` or ~/.cache)."""
    base = os.environ.get("MOODSTREAM_KAFKA_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "moodstream" / "kafka"
    return root / KAFKA_VERSION


def java_version(java: str = "java") -> int | None:
    """The major version of ``java`` (17 for "17.0.15"), or None when it is not there."""
    if shutil.which(java) is None:
        return None
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def unavailable_reason() -> str | None:
    """Why Kafka cannot run here, in one line, or None when it can (or its jars are cached)."""
    version = java_version()
    if version is None:
        return "no `java` on PATH (Kafka needs Java 17 or newer)"
    if version < MIN_JAVA:
        return f"java {version} found, Kafka {KAFKA_VERSION} needs Java {MIN_JAVA} or newer"
    if not _jars_ready() and shutil.which("mvn") is None:
        return f"no `mvn` on PATH to fetch Kafka {KAFKA_VERSION}'s jars from Maven Central"
    return None


def _jars_ready() -> bool:
    return (cache_dir() / "libs" / ".complete").exists()


def ensure_jars() -> Path:
    """The folder of the pinned release's jars, fetched with Maven on first use.

    Fetched into a temporary folder and renamed, so an interrupted download never looks
    complete.
    """
    libs = cache_dir() / "libs"
    if _jars_ready():
        return libs
    reason = unavailable_reason()
    if reason:
        raise KafkaUnavailable(reason)
    libs.parent.mkdir(parents=True, exist_ok=True)
    print(f"==> fetching Apache Kafka {KAFKA_VERSION} jars from Maven Central into {libs} "
          "(once per machine)", flush=True)
    with tempfile.TemporaryDirectory(dir=libs.parent, prefix=".fetch-") as work:
        pom = Path(work) / "pom.xml"
        pom.write_text(_POM.format(kafka=KAFKA_VERSION, slf4j=SLF4J_VERSION, log4j=LOG4J_VERSION))
        partial = Path(work) / "libs"
        result = subprocess.run(
            ["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
             f"-DoutputDirectory={partial}", "-DincludeScope=runtime"],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise KafkaUnavailable(f"mvn could not fetch Kafka {KAFKA_VERSION}:\n{tail}")
        (partial / ".complete").write_text(KAFKA_VERSION + "\n")
        shutil.rmtree(libs, ignore_errors=True)
        partial.rename(libs)
    return libs


def _java_command(libs: Path, main_class: str, *args: str, heap: str = "512m") -> list[str]:
    return [
        "java", f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={cache_dir() / 'log4j2.properties'}",
        "-cp", f"{libs}/*", main_class, *args,
    ]


@dataclass
class KafkaNode:
    """One combined broker+controller of a :class:`KafkaCluster`."""

    node_id: int
    port: int
    controller_port: int
    folder: Path
    sasl_port: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        """``host:port`` of this node's plaintext listener."""
        return f"{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the node's JVM is alive."""
        return self.process is not None and self.process.poll() is None

    @property
    def log_path(self) -> Path:
        """The node's server log."""
        return self.folder / "server.log"

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the node's log (for error messages)."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(max(0, self.log_path.stat().st_size - 32_768))
            text = log.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])


class KafkaCluster:
    """``nodes`` Apache Kafka nodes (1 or 3) on loopback, state in ``root``.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``port`` fixes the
    first node's client port (the others take free ports); ``None`` picks free ports.
    """

    flavor = FLAVOR

    def __init__(
        self,
        root: Path | str,
        *,
        nodes: int = 3,
        port: int | None = None,
        scram_users: Mapping[str, str] | None = None,
        ready_timeout: float = 120.0,
        heap: str = "512m",
    ) -> None:
        if nodes not in (1, 3):
            raise ValueError("a cluster has 1 or 3 nodes")
        self.root = Path(root)
        self.ready_timeout = ready_timeout
        self.heap = heap
        self.scram_users = dict(scram_users or {})
        self.nodes = [
            KafkaNode(
                node_id=index + 1,
                port=port if (port is not None and index == 0) else free_port(),
                controller_port=free_port(),
                folder=self.root / f"node-{index + 1}",
                sasl_port=free_port() if self.scram_users else None,
            )
            for index in range(nodes)
        ]

    # -- addresses -----------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """``host:port,host:port,...`` of every node, for plain Kafka clients."""
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def url(self) -> str:
        """Faust broker URL naming every node, ``kafka://h:p,kafka://h:p,...``."""
        return ",".join(f"kafka://{node.bootstrap}" for node in self.nodes)

    @property
    def sasl_bootstrap(self) -> str:
        """``host:port,...`` of the SASL_PLAINTEXT (SCRAM-SHA-256) listeners."""
        if not self.scram_users:
            raise ValueError("this cluster was started without scram_users")
        return ",".join(f"{HOST}:{node.sasl_port}" for node in self.nodes)

    @property
    def replication_factor(self) -> int:
        """Copies of each partition: every node's, up to three."""
        return min(3, len(self.nodes))

    @property
    def running(self) -> bool:
        """True while every node is alive."""
        return all(node.running for node in self.nodes)

    def service_env(self) -> dict[str, str]:
        """What a service needs in its environment to use this cluster as production would,
        with one development setting: a killed worker's partitions move to the others
        after 10 s of silence, not Faust's 60."""
        return {
            "MOODSTREAM_BROKER_URL": self.url,
            "MOODSTREAM_BROKER_FLAVOR": self.flavor,
            "MOODSTREAM_TOPIC_REPLICATION_FACTOR": str(self.replication_factor),
            "MOODSTREAM_BROKER_SESSION_TIMEOUT": "10",
        }

    # -- configuration -------------------------------------------------------------

    def _properties(self, node: KafkaNode) -> str:
        voters = ",".join(f"{n.node_id}@{HOST}:{n.controller_port}" for n in self.nodes)
        rf = self.replication_factor
        listeners = [f"PLAINTEXT://{HOST}:{node.port}", f"CONTROLLER://{HOST}:{node.controller_port}"]
        advertised = [f"PLAINTEXT://{HOST}:{node.port}"]
        protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
        extra: list[str] = []
        if node.sasl_port is not None:
            listeners.append(f"SASL://{HOST}:{node.sasl_port}")
            advertised.append(f"SASL://{HOST}:{node.sasl_port}")
            protocols.append("SASL:SASL_PLAINTEXT")
            extra += [
                "sasl.enabled.mechanisms=SCRAM-SHA-256",
                "listener.name.sasl.scram-sha-256.sasl.jaas.config="
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            ]
        lines = [
            "process.roles=broker,controller",
            f"node.id={node.node_id}",
            f"controller.quorum.voters={voters}",
            f"listeners={','.join(listeners)}",
            f"advertised.listeners={','.join(advertised)}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            f"listener.security.protocol.map={','.join(protocols)}",
            f"log.dirs={node.folder / 'data'}",
            # Production-shaped durability: every topic (changelogs and the group
            # coordinator's own included) has a copy on each node, and an acks=all write
            # needs two of them.
            f"default.replication.factor={rf}",
            f"min.insync.replicas={min(2, rf)}",
            f"offsets.topic.replication.factor={rf}",
            f"transaction.state.log.replication.factor={rf}",
            f"transaction.state.log.min.isr={min(2, rf)}",
            "num.partitions=1",
            # A development cluster: a group forms at once, not after Kafka's 3 s wait
            # for more members, and small segments keep a long test run's disk small.
            "group.initial.rebalance.delay.ms=0",
            "log.segment.bytes=16777216",
            "num.network.threads=2",
            "num.io.threads=4",
            "num.recovery.threads.per.data.dir=1",
            "background.threads=4",
            "log.cleaner.threads=1",
            "log.cleaner.dedupe.buffer.size=8388608",
            *extra,
        ]
        return "\n".join(lines) + "\n"

    def _format(self, libs: Path) -> None:
        """Format every node's storage once, all with one cluster id."""
        id_file = self.root / "cluster.id"
        if all((node.folder / "data" / "meta.properties").exists() for node in self.nodes):
            return
        cluster_id = id_file.read_text().strip() if id_file.exists() else _random_cluster_id(libs)
        self.root.mkdir(parents=True, exist_ok=True)
        id_file.write_text(cluster_id + "\n")
        for node in self.nodes:
            if (node.folder / "data" / "meta.properties").exists():
                continue
            args = ["format", "-t", cluster_id, "-c", str(node.folder / "server.properties")]
            for user, password in self.scram_users.items():
                args += ["--add-scram", f"SCRAM-SHA-256=[name={user},password={password}]"]
            result = subprocess.run(
                _java_command(libs, "kafka.tools.StorageTool", *args, heap="256m"),
                capture_output=True, text=True, check=False,
            )
            if result.returncode != 0:
                raise BrokerStartError(
                    f"formatting Kafka node {node.node_id} failed:\n{result.stdout}{result.stderr}"
                )

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> KafkaCluster:
        """Fetch the jars if needed, format storage once, start every node and block until
        the cluster answers with all its brokers."""
        libs = ensure_jars()
        log4j = cache_dir() / "log4j2.properties"
        if not log4j.exists():
            log4j.write_text(_LOG4J2)
        for node in self.nodes:
            for port in (node.port, node.controller_port, node.sasl_port):
                if port is not None and _port_in_use(HOST, port):
                    raise BrokerStartError(f"port {port} on {HOST} is already in use")
            node.folder.mkdir(parents=True, exist_ok=True)
            (node.folder / "server.properties").write_text(self._properties(node))
        self._format(libs)
        for node in self.nodes:
            self._spawn(node, libs)
        try:
            self.wait_ready(self.ready_timeout)
        except BaseException:
            self.stop(grace=0)
            raise
        return self

    def _spawn(self, node: KafkaNode, libs: Path) -> None:
        command = _java_command(libs, "kafka.Kafka", str(node.folder / "server.properties"),
                                heap=self.heap)
        # A JVM must not outlive whoever started it: a killed test run or launcher once
        # left three brokers eating a core for an hour. setpriv (util-linux) asks the
        # kernel to send SIGTERM to the node when its parent dies, however it dies.
        if shutil.which("setpriv"):
            command = ["setpriv", "--pdeathsig", "TERM", "--", *command]
        with node.log_path.open("ab") as log:
            node.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own session: a Ctrl-C meant for the caller does not kill the brokers
                # before the caller has stopped its clients.
                start_new_session=True,
            )

    def wait_ready(self, timeout: float, *, nodes: int | None = None) -> None:
        """Block until a client sees ``nodes`` (default: all) brokers in the metadata."""
        wanted = len(self.nodes) if nodes is None else nodes
        deadline = time.monotonic() + timeout
        while True:
            dead = [node for node in self.nodes if node.process is not None and not node.running]
            if dead:
                node = dead[0]
                code = node.process.returncode if node.process else None
                raise BrokerStartError(
                    f"Kafka node {node.node_id} exited with {code} ({node.log_path}):\n"
                    f"{node.log_tail()}"
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrokerStartError(
                    f"Kafka cluster {self.bootstrap} not ready after {timeout:.0f}s:\n"
                    + "\n".join(f"node {n.node_id}: {n.log_tail(5)}" for n in self.nodes)
                )
            live = [node for node in self.nodes if node.running]
            # Only once every live node listens: aiokafka logs each refused connection.
            if live and all(_port_in_use(HOST, node.port) for node in live):
                probe = functools.partial(_broker_count, self._live_bootstrap(), min(5.0, left))
                seen = _run_sync(probe)
                if seen >= wanted:
                    return
            time.sleep(0.2)

    def _live_bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes if node.running)

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM every node (a controlled shutdown), then SIGKILL after ``grace`` seconds."""
        for node in self.nodes:
            if node.running and node.process is not None:
                node.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(timeout=10)

    # -- one node at a time (broker failures) ----------------------------------------

    def node(self, node_id: int) -> KafkaNode:
        """The node with ``node_id`` (1-based)."""
        return self.nodes[node_id - 1]

    def kill_node(self, node_id: int) -> None:
        """SIGKILL one node, as a crash or a lost machine would stop it."""
        node = self.node(node_id)
        if node.process is not None and node.running:
            node.process.kill()
            node.process.wait(timeout=10)

    def stop_node(self, node_id: int, grace: float = 30.0) -> None:
        """Stop one node cleanly (controlled shutdown: it hands its leaderships over)."""
        node = self.node(node_id)
        if node.process is None or not node.running:
            return
        node.process.send_signal(signal.SIGTERM)
        try:
            node.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait(timeout=10)

    def leaders(self, topics: list[str]) -> Counter[int]:
        """How many partitions of ``topics`` each node leads now."""
        return _run_sync(functools.partial(_leader_counts, self._live_bootstrap(), topics))

    def start_node(self, node_id: int, *, timeout: float | None = None) -> None:
        """Start one stopped node again and wait until the cluster sees every broker."""
        node = self.node(node_id)
        if node.running:
            return
        self._spawn(node, ensure_jars())
        self.wait_ready(timeout or self.ready_timeout)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of each stopped node's log (all nodes' when none stopped)."""
        dead = [node for node in self.nodes if node.process is not None and not node.running]
        return "\n".join(f"node {n.node_id}: {n.log_tail(lines)}" for n in dead or self.nodes)

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _random_cluster_id(libs: Path) -> str:
    result = subprocess.run(
        _java_command(libs, "kafka.tools.StorageTool", "random-uuid", heap="128m"),
        capture_output=True, text=True, check=True,
    )
    return result.stdout.strip().splitlines()[-1]


async def _leader_counts(bootstrap: str, topics: list[str], timeout: float = 30.0) -> Counter[int]:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    # Right after a node dies the client may still pick it (NodeNotReadyError): ask again.
    deadline = time.monotonic() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            described = await admin.describe_topics(topics)
            break
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
        finally:
            await admin.close()
    return Counter(
        partition["leader"]
        for topic in described
        for partition in topic["partitions"]
        if partition["leader"] >= 0
    )


async def _broker_count(bootstrap: str, timeout: float) -> int:
    from aiokafka import AIOKafkaClient
    from aiokafka.errors import KafkaError

    client = AIOKafkaClient(
        bootstrap_servers=bootstrap, request_timeout_ms=max(int(timeout * 1000), 1000),
        retry_backoff_ms=100,
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return len(client.cluster.brokers())
    except (TimeoutError, KafkaError, OSError):
        return 0
    finally:
        await client.close()


# -- command line ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run a cluster in the foreground until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m moodstream_dev.kafka", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--nodes", type=int, choices=(1, 3), default=1)
    parser.add_argument("--port", type=int, default=9092, help="the first node's client port")
    parser.add_argument("--root", type=Path, default=Path("var/kafka"), help="data and logs")
    parser.add_argument("--create-topics", action="store_true",
                        help="create Moodstream's topics once ready")
    parser.add_argument("--topic-prefix", default="", help="prefix for --create-topics")
    args = parser.parse_args(argv)

    cluster = KafkaCluster(args.root / f"{args.nodes}-node", nodes=args.nodes, port=args.port)
    return serve_in_foreground(
        cluster,
        lambda seconds: f"Kafka {KAFKA_VERSION} ready at {cluster.bootstrap} ({args.nodes} "
        f"node{'s' if args.nodes > 1 else ''}) in {seconds:.1f}s; logs under {cluster.root}; "
        "Ctrl-C stops it",
        topic_prefix=args.topic_prefix if args.create_topics else None,
        errors=(BrokerStartError, KafkaUnavailable),
    )


if __name__ == "__main__":
    sys.exit(main())
