"""Liveness and readiness answers shared by every service's ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from typing import Any

import faust


def readiness(app: faust.App) -> dict[str, Any]:
    """Whether the worker is consuming: it holds partitions and is not rebalancing.

    ``ready`` is what orchestrators and the dev launcher wait for before sending load.
    """
    try:
        assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
    except Exception:  # noqa: BLE001  consumer not started yet
        assigned = []
    rebalancing = bool(getattr(app, "rebalancing", False))
    recovering = not app.tables.recovery.completed.is_set() if app.tables else False
    return {
        "ready": bool(assigned) and not rebalancing and not recovering,
        "assigned_partitions": len(assigned),
        "rebalancing": rebalancing,
        "recovering": recovering,
    }
