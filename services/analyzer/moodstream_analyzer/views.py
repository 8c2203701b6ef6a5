"""Analyzer HTTP endpoints: health and readiness (the model is loaded)."""

from __future__ import annotations

from faust.web import Request, Response, View

from moodstream_analyzer import agents
from moodstream_analyzer.app import app


@app.page("/healthz")
class Health(View):
    """Liveness and model readiness."""

    async def get(self, request: Request) -> Response:
        """``{"status": "ok", "model_loaded": bool}``."""
        loaded = agents._model is not None
        return self.json({"status": "ok", "service": "analyzer", "model_loaded": loaded})
