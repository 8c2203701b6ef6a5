"""The shared /healthz and /readyz pages, served by a real Faust web server."""

import asyncio

import faust
import httpx

from moodstream_common import broker_compat
from moodstream_common.health import register_health_pages
from moodstream_dev.processes import free_port


def test_probes_report_details_and_refuse_readiness_until_every_check_holds(tmp_path):
    port = free_port()
    app = faust.App(
        "health-test", broker="memory://", store="memory://", web_port=port,
        web_host="127.0.0.1", datadir=str(tmp_path),
    )
    model_loaded = {"value": False}
    register_health_pages(
        app, "probe", details=lambda: {"model_loaded": model_loaded["value"]},
        also_ready=lambda: model_loaded["value"],
    )

    async def probe() -> tuple:
        await app.web.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                health = await client.get("/healthz")
                not_ready = await client.get("/readyz")
                model_loaded["value"] = True
                still_not_ready = await client.get("/readyz")
            return health, not_ready, still_not_ready
        finally:
            await app.web.stop()

    health, not_ready, still_not_ready = asyncio.run(probe())
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "service": "probe", "model_loaded": False,
                             "broker_workarounds": sorted(broker_compat.installed())}
    assert not_ready.status_code == 503
    assert not_ready.json()["service"] == "probe"
    assert not_ready.json()["model_loaded"] is False and not_ready.json()["ready"] is False
    # The model is there now, but this worker holds no partitions: still not ready.
    assert still_not_ready.status_code == 503
    assert still_not_ready.json()["model_loaded"] is True
    assert still_not_ready.json()["assigned_partitions"] == 0
