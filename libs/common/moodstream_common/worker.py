"""Run a service's Faust app as a worker process (used by each ``__main__``)."""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

import faust

from moodstream_common import clean_shutdown
from moodstream_common.backoff import retry_delays
from moodstream_common.credentials_gate import wait_for_credentials
from moodstream_common.log_throttle import throttle_repeats

log = logging.getLogger("moodstream.worker")


def broker_addresses(app: faust.App) -> list[tuple[str, int]]:
    """``(host, port)`` of every broker URL the app is configured with."""
    return [(url.host or "localhost", url.port or 9092) for url in app.conf.broker]


def wait_for_broker(app: faust.App, timeout: float, *, first_delay: float = 0.25) -> bool:
    """Block until a broker accepts TCP connections, backing off up to 5 s between tries.

    A worker started before its broker (compose, a restart, a broker upgrade) waits
    here with one clear log line per try instead of crashing and being restarted in a
    loop. Returns False when ``timeout`` passed without an answer; the worker then
    starts anyway and Faust reports the connection error.
    """
    addresses = broker_addresses(app)
    deadline = time.monotonic() + timeout
    delays = retry_delays(first_delay)
    attempt = 1
    while True:
        for host, port in addresses:
            try:
                with socket.create_connection((host, port), timeout=2):
                    if attempt > 1:
                        log.warning("broker %s:%d is reachable (try %d)", host, port, attempt)
                    return True
            except OSError:
                continue
        delay = next(delays)
        if time.monotonic() + delay > deadline:
            log.error("no broker reachable at %s after %.0fs", addresses, timeout)
            return False
        log.warning(
            "broker not reachable at %s (try %d); retrying in %.1fs", addresses, attempt, delay
        )
        time.sleep(delay)  # before the event loop exists: nothing else to run meanwhile
        attempt += 1


def run_worker(app: faust.App) -> None:
    """Run ``app`` in this process until SIGTERM/SIGINT; log level from ``LOG_LEVEL``.

    Waits for the broker first (``MOODSTREAM_BROKER_WAIT_SECONDS``, default 120), then,
    with SASL, until it accepts the credentials
    (:mod:`moodstream_common.credentials_gate`: no crash loop on a wrong password).
    Local table stores left by a crash are discarded and rebuilt from their changelogs
    (:mod:`moodstream_common.clean_shutdown`); a clean stop vouches for them.
    """
    loglevel = os.environ.get("LOG_LEVEL", "info").lower()
    logging.basicConfig(
        level=loglevel.upper(),
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
    )
    logging.getLogger("moodstream").setLevel(loglevel.upper())
    throttle_repeats()
    wait_for_broker(app, float(os.environ.get("MOODSTREAM_BROKER_WAIT_SECONDS", "120")))
    wait_for_credentials(app, str(app.conf.origin).removeprefix("moodstream_"))
    # Faust creates the app's folder but not its parents.
    Path(app.conf.datadir).parent.mkdir(parents=True, exist_ok=True)
    tabledir = Path(app.conf.tabledir)
    clean_shutdown.discard_after_crash(tabledir)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    try:
        worker.execute_from_commandline()
    except SystemExit as stopped:
        # mode exits 0 only after the worker stopped: producer flushed, offsets
        # committed, stores closed. Any other exit leaves the stores unvouched for.
        if stopped.code in (0, None):
            clean_shutdown.mark_clean(tabledir)
        raise
