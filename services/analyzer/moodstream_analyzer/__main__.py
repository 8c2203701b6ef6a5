"""``python -m moodstream_analyzer``: run a analyzer worker."""

from moodstream_common.tracing import configure_sdk
from moodstream_common.worker import run_worker


def main() -> None:
    """Configure telemetry, load the app with its agents and views, run a worker."""
    configure_sdk("analyzer")
    from moodstream_analyzer import agents, views  # noqa: F401  (registers agents and pages)
    from moodstream_analyzer.app import app

    run_worker(app)


if __name__ == "__main__":
    main()
