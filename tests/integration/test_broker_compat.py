"""Each Tansu incompatibility in ``moodstream_common.broker_compat``, on the real broker.

Every test shows the workaround working and, where that is cheap, the problem
without it, so a Tansu or aiokafka upgrade that changes either shows up here.
Figures (join and restart times) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.protocol.offset import OffsetRequest

from moodstream_common import broker_compat
from moodstream_common.topics import TopicSpec
from moodstream_dev.broker import EmbeddedBroker, create_topics, free_port

pytestmark = pytest.mark.integration

LATEST, EARLIEST = -1, -2
READY_WITHIN_S = 10.0
RESTART_WITHIN_S = 15.0


@pytest.fixture(scope="module")
def broker(embedded_broker: EmbeddedBroker) -> EmbeddedBroker:
    """These are the embedded broker's quirks: always on it, whatever the suite runs on."""
    return embedded_broker


@pytest.fixture(autouse=True, scope="module")
def _tansu_patches() -> None:
    # What every service does at start-up with MOODSTREAM_BROKER_FLAVOR=tansu.
    broker_compat.apply("tansu")


# -- helpers ---------------------------------------------------------------------------


async def _produce_one_batch(bootstrap: str, topic: str, values: list[bytes], partition: int = 0):
    """Send ``values`` so they land in a single record batch (linger + one flush)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=200, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, value, partition=partition) for value in values]
        await producer.flush()
        return [(await future).offset for future in futures]
    finally:
        await producer.stop()


def produce(bootstrap: str, topic: str, values: list[str], partition: int | None = 0) -> None:
    """Blocking produce of ``values`` (as one batch) for the synchronous tests."""

    async def _send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=100, acks="all")
        await producer.start()
        try:
            for value in values:
                await producer.send(topic, value.encode(), partition=partition)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(_send())


async def _raw_list_offsets(client: AIOKafkaClient, topic: str, partitions: dict[int, int]):
    """The broker's own ListOffsets answer, bypassing the patched aiokafka Fetcher."""
    node = client.cluster.leader_for_partition(TopicPartition(topic, 0))
    response = await client.send(node, OffsetRequest(-1, 0, [(topic, list(partitions.items()))]))
    return {part: offset for _, parts in response.topics for part, _err, _ts, offset in parts}


async def _time_to_assignment(consumer: AIOKafkaConsumer, timeout: float = 30.0) -> float:
    started = time.monotonic()
    await consumer.start()
    while not consumer.assignment():
        assert time.monotonic() - started < timeout, "consumer never got an assignment"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


# -- producing -------------------------------------------------------------------------


@pytest.mark.parametrize("acks", [1, "all"])
async def test_produce_with_acks_one_and_all(broker: EmbeddedBroker, topic_prefix: str, acks):
    topic = create_topics(broker.bootstrap, [TopicSpec("acks", 1, "")], topic_prefix)[0]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks=acks)
    await producer.start()
    try:
        first = await producer.send_and_wait(topic, b"a")
        second = await producer.send_and_wait(topic, b"b")
    finally:
        await producer.stop()
    assert (first.offset, second.offset) == (0, 1)


async def test_idempotent_producer_is_unsupported(broker: EmbeddedBroker):
    """(e) InitProducerId v0 fails on Tansu: services must not enable idempotence or EOS.

    If this starts passing, Tansu learned InitProducerId v0 and the note in
    broker_compat can go.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap, enable_idempotence=True, request_timeout_ms=5000
    )
    with pytest.raises(KafkaError):
        try:
            await asyncio.wait_for(producer.start(), 15)
        finally:
            await producer.stop()


# -- (c) end offsets, (f) fetch max_wait 0 ---------------------------------------------


async def test_latest_offset_comes_from_the_high_watermark(broker, topic_prefix):
    """(c) ListOffsets(LATEST) says base+1 of the newest batch; the patch fixes it."""
    topic = create_topics(broker.bootstrap, [TopicSpec("latest", 2, "")], topic_prefix)[0]
    assert await _produce_one_batch(broker.bootstrap, topic, [b"x"] * 5, partition=0) == [
        0,
        1,
        2,
        3,
        4,
    ]
    await _produce_one_batch(broker.bootstrap, topic, [b"y"], partition=1)

    client = AIOKafkaClient(bootstrap_servers=broker.bootstrap)
    await client.bootstrap()
    try:
        raw = await _raw_list_offsets(client, topic, {0: LATEST, 1: LATEST})
    finally:
        await client.close()
    assert raw == {0: 1, 1: 1}, "the broker's bug is gone? then drop the patch"

    tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap, **broker_compat.consumer_settings("tansu")
    )
    await consumer.start()
    try:
        assert await consumer.end_offsets(tps) == {tps[0]: 5, tps[1]: 1}
        assert await consumer.beginning_offsets(tps) == {tps[0]: 0, tps[1]: 0}
        # auto_offset_reset="latest" uses the same request: no old record is re-read.
        consumer.assign(tps)
        assert await consumer.getmany(timeout_ms=500) == {}
        assert [await consumer.position(tp) for tp in tps] == [5, 1]
    finally:
        await consumer.stop()


async def test_fetch_with_zero_max_wait_returns_nothing(broker, topic_prefix):
    """(f) why every Fetch the workarounds send waits > 0 ms."""
    topic = create_topics(broker.bootstrap, [TopicSpec("wait", 1, "")], topic_prefix)[0]
    await _produce_one_batch(broker.bootstrap, topic, [b"z"] * 3)
    client = AIOKafkaClient(bootstrap_servers=broker.bootstrap)
    await client.bootstrap()
    try:
        node = client.cluster.leader_for_partition(TopicPartition(topic, 0))
        answers = {}
        for max_wait in (0, 100):
            request = FetchRequest(max_wait, 0, 1024, 0, [(topic, [(0, 0, 1024)])])
            response = await client.send(node, request)
            answers[max_wait] = [(t, [p[:3] for p in parts]) for t, parts in response.topics]
    finally:
        await client.close()
    assert answers[0] == []
    assert answers[100] == [(topic, [(0, 0, 3)])]  # partition, no error, high watermark


# -- (h) a consumer ahead of a restarted broker's log -----------------------------------


async def _fetch_at(bootstrap: str, topic: str, offset: int) -> tuple[int, int]:
    """The broker's own Fetch answer at ``offset`` of partition 0: (error code, watermark)."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        node = client.cluster.leader_for_partition(TopicPartition(topic, 0))
        response = await client.send(
            node, FetchRequest(100, 0, 1024, 0, [(topic, [(0, offset, 1024)])])
        )
        [(_topic, [partition])] = response.topics
        return partition[1], partition[2]
    finally:
        await client.close()


async def _values(consumer: AIOKafkaConsumer, count: int, timeout: float) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        for records in (await consumer.getmany(timeout_ms=200)).values():
            got.extend(record.value.decode() for record in records)
    return got


async def test_consumer_ahead_of_a_restarted_broker_reads_its_new_log(tmp_path):
    """(h) The broker restarts empty (memory storage) under a consumer at offset 30. Tansu
    answers its fetches at 30 with no error, so without the patch it would wait until 30
    new records came and then skip the first 30; with it the consumer resets, as on
    Kafka, and reads the new records from the start."""
    port = free_port()
    first = EmbeddedBroker(port=port, log_path=tmp_path / "broker-1.log").start()
    topic = create_topics(first.bootstrap, [TopicSpec("ahead", 1, "")])[0]
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=first.bootstrap,
        auto_offset_reset="earliest",
        retry_backoff_ms=200,
        **broker_compat.consumer_settings("tansu"),
    )
    second = None
    try:
        await _produce_one_batch(first.bootstrap, topic, [f"old-{i}".encode() for i in range(30)])
        await consumer.start()
        consumer.assign([tp])  # no group: only the client remembers the position
        assert len(await _values(consumer, 30, timeout=20)) == 30
        assert await consumer.position(tp) == 30
        first.stop()
        second = EmbeddedBroker(port=port, log_path=tmp_path / "broker-2.log").start()
        create_topics(second.bootstrap, [TopicSpec("ahead", 1, "")])
        new = [f"new-{i}" for i in range(5)]
        await _produce_one_batch(second.bootstrap, topic, [v.encode() for v in new])
        assert await _fetch_at(second.bootstrap, topic, 30) == (0, 5), (
            "Tansu now answers OFFSET_OUT_OF_RANGE? then patch (h) can go"
        )
        assert await _values(consumer, 5, timeout=30) == new
        assert await consumer.position(tp) == 5
    finally:
        await consumer.stop()
        first.stop()
        if second is not None:
            second.stop()


# -- (a) join time, (d) generation 0 ---------------------------------------------------


async def test_first_join_is_fast_with_short_session(broker, topic_prefix):
    """(a) Tansu holds JoinGroup for session_timeout/2: 10 s (aiokafka) -> 5 s, 3 s -> 2 s."""
    topic = create_topics(broker.bootstrap, [TopicSpec("join", 2, "")], topic_prefix)[0]
    timings = {}
    for name, options in {
        "compat": broker_compat.consumer_settings("tansu"),
        "aiokafka defaults": {},
    }.items():
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=broker.bootstrap,
            group_id=f"{topic_prefix}join-{name.replace(' ', '-')}",
            **options,
        )
        try:
            timings[name] = await _time_to_assignment(consumer)
            # (d)'s root cause: Kafka numbers the first generation 1, Tansu 0.
            assert consumer._coordinator.generation == 0
        finally:
            await consumer.stop()
    print(f"\nfirst join: {timings}")
    assert timings["compat"] < 3.5
    assert timings["aiokafka defaults"] > 4.5


_LEAVER = """
import asyncio, os, sys
from aiokafka import AIOKafkaConsumer
from moodstream_common import broker_compat

if os.environ["PATCH"] == "1":
    broker_compat.install_patch("leave_group_generation_zero")

async def main():
    consumer = AIOKafkaConsumer(
        os.environ["TOPIC"], group_id=os.environ["GROUP"],
        bootstrap_servers=os.environ["BOOTSTRAP"], **broker_compat.consumer_settings("tansu"))
    await consumer.start()
    while not consumer.assignment():
        await asyncio.sleep(0.02)
    print(consumer._coordinator.generation, flush=True)
    await consumer.stop()  # a clean shutdown: LeaveGroup, if aiokafka sends it

asyncio.run(main())
"""


async def test_clean_stop_in_generation_zero_leaves_the_group(broker, topic_prefix):
    """(d) without the patch a member stopped in generation 0 stays as a ghost leader."""
    topic = create_topics(broker.bootstrap, [TopicSpec("leave", 2, "")], topic_prefix)[0]
    timings = {}
    for patch in ("1", "0"):
        group = f"{topic_prefix}leave-{patch}"
        env = dict(os.environ, PATCH=patch, TOPIC=topic, GROUP=group, BOOTSTRAP=broker.bootstrap)
        leaver = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", _LEAVER],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert leaver.returncode == 0, leaver.stderr
        assert leaver.stdout.strip() == "0"  # it left (or not) from generation 0
        successor = AIOKafkaConsumer(
            topic,
            bootstrap_servers=broker.bootstrap,
            group_id=group,
            **broker_compat.consumer_settings("tansu"),
        )
        try:
            timings["patched" if patch == "1" else "unpatched"] = await _time_to_assignment(
                successor
            )
            assert successor.assignment() == {TopicPartition(topic, 0), TopicPartition(topic, 1)}
        finally:
            await successor.stop()
    print(f"\nsuccessor join after a clean stop in generation 0: {timings}")
    assert timings["patched"] < 4.0
    # The ghost is only evicted after a session timeout, and only then does the
    # successor's SyncGroup stop waiting for the ghost leader's assignment.
    assert timings["unpatched"] > 5.0


# -- Faust workers: (a), (b), (c), (d) end to end ----------------------------------------

FAUST_APP = '''
"""A tiny Faust app: counts values in a table; "probe..." values dump the table."""
import json
import os

import faust

from moodstream_common import broker_compat

FLAVOR = "tansu"
PATCHES = os.environ.get("COMPAT_PATCHES", "all")
if PATCHES == "all":
    broker_compat.apply(FLAVOR)
else:
    for name in filter(None, PATCHES.split(",")):
        broker_compat.install_patch(name)
PARTITIONS = int(os.environ["PARTITIONS"])

app = faust.App(
    os.environ["APP_ID"],
    broker=os.environ["BROKER_URL"],
    store="memory://",  # a restart recovers the table from its changelog alone
    datadir=os.environ["DATA_DIR"],
    web_enabled=False,
    topic_replication_factor=1,
    topic_partitions=PARTITIONS,
    producer_acks=-1,
    producer_linger=0.2,  # several changelog records per batch
    consumer_auto_offset_reset="earliest",
    table_standby_replicas=0,
    **broker_compat.faust_settings(FLAVOR),
)
source = app.topic(os.environ["TOPIC"], value_serializer="raw", partitions=PARTITIONS)
counts = app.Table("counts", default=int, partitions=PARTITIONS)


@app.agent(source)
async def consume(stream):
    async for value in stream:
        text = value.decode()
        if text.startswith("probe"):
            line = json.dumps({"probe": text, "counts": dict(counts.items())})
            with open(os.environ["OUT"], "a") as out:
                out.write(line + "\\n")
        else:
            counts[text] += 1


if __name__ == "__main__":
    app.main()
'''


@dataclass
class FaustWorker:
    """The tiny Faust app as a ``python -m`` worker process."""

    workdir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    started_at: float = field(default=0.0, init=False)

    @property
    def log_path(self) -> Path:
        return self.workdir / "worker.log"

    @property
    def out_path(self) -> Path:
        return Path(self.env["OUT"])

    def start(self, **env: str) -> None:
        with self.log_path.open("ab") as log:
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "probe_app", "worker", "--loglevel", "info"],
                cwd=self.workdir,
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_probe(self, probe: str, timeout: float) -> tuple[float, dict[str, int]]:
        """Seconds from start until ``probe`` was consumed, and the table it saw."""
        assert self.process is not None
        deadline = self.started_at + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")
            for line in self.out_path.read_text().splitlines() if self.out_path.exists() else []:
                seen = json.loads(line)
                if seen["probe"] == probe:
                    return time.monotonic() - self.started_at, seen["counts"]
            time.sleep(0.05)
        pytest.fail(f"{probe} not consumed within {timeout:.0f}s:\n{self.log_tail()}")

    def kill(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        """Group and recovery milestones of the whole log, then its last ``lines`` lines:
        a stall after "Ready" is explained by what the group did much earlier."""
        text = self.log_path.read_text(errors="replace").splitlines()
        milestones = [line for line in text if _MILESTONE.search(line)]
        return "\n".join(["-- milestones --", *milestones[-60:], "-- tail --", *text[-lines:]])


_MILESTONE = re.compile(
    r"Joined group|synced group|Assigned|Revoked|rebalanc|Worker ready|Starting\.\.\. $|"
    r"WARNING|ERROR|out of range|coordinator",
    re.IGNORECASE,
)


@pytest.fixture
def faust_worker(broker, topic_prefix, tmp_path):
    """A factory of workers of the tiny app on a fresh topic; all stopped afterwards."""
    (tmp_path / "probe_app.py").write_text(textwrap.dedent(FAUST_APP))
    workers: list[FaustWorker] = []

    def _make(partitions: int) -> tuple[FaustWorker, str]:
        topic = create_topics(
            broker.bootstrap, [TopicSpec("source", partitions, "")], topic_prefix
        )[0]
        env = {
            **os.environ,
            "BROKER_URL": broker.url,
            "APP_ID": f"{topic_prefix}app",
            "TOPIC": topic,
            "PARTITIONS": str(partitions),
            "DATA_DIR": str(tmp_path / "data"),
            "OUT": str(tmp_path / "out.jsonl"),
        }
        worker = FaustWorker(tmp_path, env)
        workers.append(worker)
        return worker, topic

    yield _make
    for worker in workers:
        worker.stop()


def test_faust_worker_starts_and_restarts_quickly(broker, faust_worker):
    """(a)(b)(d): consuming within 10 s of start, 15 s of a restart after SIGTERM/SIGKILL."""
    worker, topic = faust_worker(partitions=2)
    timings: dict[str, float] = {}

    produce(broker.bootstrap, topic, ["probe-start"], partition=None)
    worker.start()
    timings["start"], _ = worker.wait_probe("probe-start", READY_WITHIN_S + 20)

    for name, signum in (("SIGTERM", signal.SIGTERM), ("SIGKILL", signal.SIGKILL)):
        # A probe in every partition: the restarted worker must own them all.
        probes = [f"probe-{name}-{partition}" for partition in (0, 1)]
        worker.kill(signum)
        for partition, probe in enumerate(probes):
            produce(broker.bootstrap, topic, [probe], partition=partition)
        worker.start()
        timings[f"restart after {name}"] = max(
            worker.wait_probe(probe, RESTART_WITHIN_S + 20)[0] for probe in probes
        )

    print(f"\nFaust worker, seconds to first consumed record: {timings}")
    assert timings["start"] < READY_WITHIN_S, timings
    assert timings["restart after SIGTERM"] < RESTART_WITHIN_S, timings
    assert timings["restart after SIGKILL"] < RESTART_WITHIN_S, timings


async def _changelog_offsets(bootstrap: str, topic: str) -> tuple[int, int]:
    """(broker's ListOffsets LATEST, patched end offset) of partition 0 of ``topic``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        end = (await consumer.end_offsets([tp]))[tp]
        raw = await _raw_list_offsets(consumer._client, topic, {0: LATEST})
    finally:
        await consumer.stop()
    return raw[0], end


RECOVERY_WAIT_S = 60  # generous: a loaded CI machine once took over 30 s


def test_faust_table_recovers_when_last_changelog_batch_has_several_records(broker, faust_worker):
    """(c): a restarted worker rebuilds its table from the changelog; unpatched it is wrong."""
    worker, topic = faust_worker(partitions=1)
    values = [f"k{i % 4}" for i in range(12)]
    expected = {"k0": 3, "k1": 3, "k2": 3, "k3": 3}
    produce(broker.bootstrap, topic, [*values, "probe-1"])
    worker.start()
    # This test checks what the table holds; how fast a worker starts is the test above.
    _, counts = worker.wait_probe("probe-1", RECOVERY_WAIT_S)
    assert counts == expected
    worker.kill(signal.SIGTERM)  # a clean stop flushes the changelog

    changelog = f"{worker.env['APP_ID']}-counts-changelog"
    listed, end = asyncio.run(_changelog_offsets(broker.bootstrap, changelog))
    assert end == len(values)
    assert listed < end, "precondition: the newest changelog batch holds several records"

    # memory:// state: each restart rebuilds the table from the changelog alone.
    results = {}
    for label, patches in (
        ("patched", "all"),
        # everything but the LATEST fix: Faust stops reading the changelog early.
        ("unpatched", "leave_group_generation_zero"),
    ):
        probe = f"probe-{label}"
        produce(broker.bootstrap, topic, [probe])
        worker.start(COMPAT_PATCHES=patches)
        seconds, results[label] = worker.wait_probe(probe, RECOVERY_WAIT_S)
        worker.kill(signal.SIGTERM)
        print(f"\nrecovery {label}: {seconds:.1f}s to first record, table {results[label]}")
    assert results["patched"] == expected
    assert results["unpatched"] != expected


def test_create_topics_is_idempotent(broker, topic_prefix):
    specs = [TopicSpec("one", 3, ""), TopicSpec("two", 1, "")]
    first = create_topics(broker.bootstrap, specs, topic_prefix)
    again = create_topics(broker.bootstrap, specs, topic_prefix)
    assert first == again == [f"{topic_prefix}one", f"{topic_prefix}two"]

    async def partitions() -> dict[str, int]:
        client = AIOKafkaClient(bootstrap_servers=broker.bootstrap)
        await client.bootstrap()
        try:
            await client.fetch_all_metadata()
            metadata = await client.fetch_all_metadata()
            return {name: len(metadata.partitions_for_topic(name) or ()) for name in first}
        finally:
            await client.close()

    assert asyncio.run(partitions()) == {f"{topic_prefix}one": 3, f"{topic_prefix}two": 1}


def test_embedded_broker_stops_and_frees_its_port(tmp_path):
    with EmbeddedBroker(log_path=tmp_path / "b.log") as second:
        assert second.running
        assert second.url == f"kafka://127.0.0.1:{second.port}"
        assert second.bootstrap == f"127.0.0.1:{second.port}"
        process = second.process
    assert process is not None and process.poll() is not None
    assert not second.running
    assert "listening on" in (tmp_path / "b.log").read_text()
