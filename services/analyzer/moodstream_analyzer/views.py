"""Analyzer HTTP endpoints: ``/healthz``, ``/readyz`` (partitions held and model loaded),
``/metrics``."""

from __future__ import annotations

from typing import Any

from moodstream_analyzer import agents
from moodstream_analyzer.app import app
from moodstream_common.health import register_health_pages
from moodstream_common.metrics import register_metrics_page


def _model_state() -> dict[str, Any]:
    """Whether the model is loaded; if not, why (``model_error`` names the path and the fix)."""
    return {
        "model_loaded": agents.loaded_model() is not None,
        "model_error": agents.model_error(),
        "model_load_attempts": agents.load_attempts(),
    }


register_health_pages(
    app,
    "analyzer",
    details=_model_state,
    also_ready=lambda: agents.loaded_model() is not None,
    reads_outside_faust=True,
)
register_metrics_page(app, "analyzer")
