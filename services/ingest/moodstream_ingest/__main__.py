"""``python -m moodstream_ingest``: run a ingest worker."""

from moodstream_common.tracing import configure_sdk
from moodstream_common.worker import run_worker


def main() -> None:
    """Configure telemetry, load the app with its agents and views, run a worker."""
    configure_sdk("ingest")
    # Registers agents, pages and, when INGEST_AMQP_URL is set, the RabbitMQ bridge.
    from moodstream_ingest import agents, amqp_intake, amqp_results, views  # noqa: F401
    from moodstream_ingest.app import app

    run_worker(app)


if __name__ == "__main__":
    main()
