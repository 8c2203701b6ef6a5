"""Liveness and readiness answers shared by every service's ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import faust
from faust.web import Request, Response, View

from moodstream_common import broker_compat
from moodstream_common.input_batches import running_readers


def group_coordinator_known(app: faust.App) -> bool | None:
    """Whether the worker's consumer is in touch with its group coordinator.

    ``False`` while the broker is away (aiokafka marks the coordinator dead and looks
    for it again), ``None`` when it cannot be told (consumer not started). Reads
    aiokafka's ``GroupCoordinator.coordinator_id`` through Faust's consumer thread:
    private attributes of faust-streaming 0.15 / aiokafka 0.14, hence the fallback.
    """
    try:
        consumer = app._consumer  # never create one from a probe
        coordinator = consumer._thread._consumer._coordinator  # type: ignore[union-attr]  # private
    except AttributeError:
        return None
    return getattr(coordinator, "coordinator_id", None) is not None


def readiness(app: faust.App, *, reads_outside_faust: bool = False) -> dict[str, Any]:
    """Whether the worker is consuming: it holds partitions, is not rebalancing, and is
    in touch with its group coordinator.

    ``reads_outside_faust``: the service reads its input with
    :class:`~moodstream_common.input_batches.InputBatches`, so the partitions that count
    are its readers' (Faust's group then holds only its leader topic, and only one
    worker of several gets that).

    ``ready`` is what orchestrators and the dev launcher wait for before sending load.
    ``rebalances`` counts the rebalances this worker has been through, so a caller can
    tell that a worker has re-joined its group (after a broker restart, say).
    """
    if reads_outside_faust:
        held = {tp for reader in running_readers() for tp in reader.assignment()}
        assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in held)
    else:
        try:
            assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
        except Exception:  # noqa: BLE001  consumer not started yet
            assigned = []
    rebalancing = bool(getattr(app, "rebalancing", False))
    recovering = (
        not app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]  # TableManager's
        if app.tables
        else False
    )
    coordinator = group_coordinator_known(app)
    return {
        "ready": bool(assigned) and not rebalancing and not recovering and coordinator is not False,
        "assigned_partitions": len(assigned),
        "rebalancing": rebalancing,
        "recovering": recovering,
        "group_coordinator": coordinator,
        "rebalances": int(getattr(app, "rebalancing_count", 0)),
    }


def register_health_pages(
    app: faust.App,
    service: str,
    *,
    details: Callable[[], Mapping[str, Any]] = dict,
    also_ready: Callable[[], bool] = lambda: True,
    reads_outside_faust: bool = False,
) -> None:
    """Serve ``GET /healthz`` and ``GET /readyz`` for ``service`` on ``app``'s web server.

    ``/healthz`` (liveness) answers 200 ``{"status": "ok", "service", "broker_workarounds",
    **details()}`` while the event loop runs; ``broker_workarounds`` names the
    :mod:`~moodstream_common.broker_compat` patches active in this process (none on
    Kafka/Redpanda, all of them on the embedded broker). ``/readyz`` answers
    :func:`readiness` plus ``details()``, 200 when the worker is consuming and
    ``also_ready()`` holds (the analyzer's model, the ingest AMQP bridge), 503 otherwise:
    the body says why. ``reads_outside_faust`` as in :func:`readiness`.
    """

    @app.page("/healthz")
    class Health(View):
        """Liveness: the worker's event loop answers."""

        async def get(self, request: Request) -> Response:
            """``{"status": "ok", "service": name, "broker_workarounds": [...], ...details}``."""
            return self.json({"status": "ok", "service": service,
                              "broker_workarounds": sorted(broker_compat.installed()),
                              **details()})

    @app.page("/readyz")
    class Ready(View):
        """Readiness: partitions held, no rebalance or recovery, in touch with the group."""

        async def get(self, request: Request) -> Response:
            """200 when ready to process, 503 otherwise; the body says why."""
            state = {**readiness(app, reads_outside_faust=reads_outside_faust), **details()}
            state["ready"] = state["ready"] and also_ready()
            return self.json({"service": service, **state}, status=200 if state["ready"] else 503)
