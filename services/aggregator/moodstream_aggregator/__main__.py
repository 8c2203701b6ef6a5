"""``python -m moodstream_aggregator``: run a aggregator worker."""

from moodstream_common.tracing import configure_sdk
from moodstream_common.worker import run_worker


def main() -> None:
    """Configure telemetry, load the app with its agents and views, run a worker."""
    configure_sdk("aggregator")
    from moodstream_aggregator.alert_rules import RuleFileError

    try:
        from moodstream_aggregator import agents, views  # noqa: F401  (registers agents and pages)
    except RuleFileError as exc:
        # Before the worker joins its group: a bad rules file must not half-start it.
        raise SystemExit(f"moodstream aggregator: AGGREGATOR_ALERT_RULES: {exc}") from None
    from moodstream_aggregator.app import app

    run_worker(app)


if __name__ == "__main__":
    main()
