"""Analyzer HTTP endpoints: ``/healthz``, ``/readyz`` (partitions held and model loaded),
``/metrics``."""

from __future__ import annotations

from faust.web import Request, Response, View

from moodstream_analyzer import agents
from moodstream_analyzer.app import app
from moodstream_common.health import readiness
from moodstream_common.metrics import register_metrics_page


@app.page("/healthz")
class Health(View):
    """Liveness and whether the model is loaded."""

    async def get(self, request: Request) -> Response:
        """``{"status": "ok", "model_loaded": bool, "model_error": str | None}``."""
        loaded = agents.loaded_model() is not None
        return self.json(
            {
                "status": "ok",
                "service": "analyzer",
                "model_loaded": loaded,
                "model_error": agents.model_error(),
            }
        )


@app.page("/readyz")
class Ready(View):
    """Readiness: partitions assigned, not rebalancing, model loaded."""

    async def get(self, request: Request) -> Response:
        """200 when ready to score, 503 otherwise; the body says why (``model_error``
        names the model path and the fix when the model cannot be served)."""
        state = readiness(app)
        state["model_loaded"] = agents.loaded_model() is not None
        state["model_error"] = agents.model_error()
        state["model_load_attempts"] = agents.load_attempts()
        state["ready"] = state["ready"] and state["model_loaded"]
        return self.json({"service": "analyzer", **state}, status=200 if state["ready"] else 503)


register_metrics_page(app, "analyzer")
