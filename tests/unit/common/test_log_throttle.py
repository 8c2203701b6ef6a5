"""Repeated log records are held back and counted; distinct ones still pass."""

import logging

from moodstream_common.log_throttle import ThrottleRepeats, throttle_repeats


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record(msg: str, name: str = "aiokafka.conn", level: int = logging.ERROR):
    return logging.LogRecord(name, level, __file__, 1, msg, ("x",), None)


def test_repeats_within_the_interval_are_held_back_then_counted():
    clock = Clock()
    throttle = ThrottleRepeats(10.0, clock=clock)
    assert throttle.filter(_record("Unable connect to node %s"))
    passed = 0
    for _ in range(50):
        clock.now += 0.1
        passed += throttle.filter(_record("Unable connect to node %s"))
    assert passed == 0
    clock.now = 10.5
    summary = _record("Unable connect to node %s")
    assert throttle.filter(summary)
    assert summary.msg.endswith("(+50 similar in 10s)")
    assert summary.getMessage() == "Unable connect to node x (+50 similar in 10s)"


def test_distinct_templates_loggers_and_levels_are_not_throttled_together():
    throttle = ThrottleRepeats(10.0, clock=Clock())
    assert throttle.filter(_record("Unable connect to node %s"))
    assert throttle.filter(_record("Failed fetch messages from %s"))
    assert throttle.filter(_record("Unable connect to node %s", name="aiokafka.cluster"))
    assert throttle.filter(_record("Unable connect to node %s", level=logging.WARNING))
    assert not throttle.filter(_record("Unable connect to node %s"))


def test_installed_on_every_aiokafka_logger(caplog):
    import aiokafka  # noqa: F401  (creates its loggers)

    throttle = throttle_repeats(60.0)
    try:
        logger = logging.getLogger("aiokafka.conn")
        assert throttle in logger.filters
        with caplog.at_level(logging.ERROR, logger="aiokafka.conn"):
            for _ in range(20):
                logger.error("Unable connect to node with id %s", 1)
        assert len([r for r in caplog.records if r.name == "aiokafka.conn"]) == 1
    finally:
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("aiokafka"):
                logging.getLogger(name).removeFilter(throttle)
