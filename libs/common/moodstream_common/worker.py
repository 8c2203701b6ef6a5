"""Run a service's Faust app as a worker process (used by each ``__main__``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import faust


def run_worker(app: faust.App) -> None:
    """Run ``app`` in this process until SIGTERM/SIGINT; log level from ``LOG_LEVEL``."""
    loglevel = os.environ.get("LOG_LEVEL", "info").lower()
    logging.getLogger("moodstream").setLevel(loglevel.upper())
    # Faust creates the app's folder but not its parents.
    Path(app.conf.datadir).parent.mkdir(parents=True, exist_ok=True)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
