"""Unit tests of the aggregator run its agent in Faust's test context on memory stores.

The aggregator reads its settings when its app module is imported, so the store is
chosen here, before any test module imports it, and the variable is then removed
again: this pytest process also starts real services (tests/e2e), which inherit its
environment and must keep their RocksDB stores.
"""

import os

_previous = os.environ.get("AGGREGATOR_STORE")
os.environ["AGGREGATOR_STORE"] = "memory://"
try:
    import moodstream_aggregator.app  # noqa: F401  # settings are read now
finally:
    if _previous is None:
        del os.environ["AGGREGATOR_STORE"]
    else:
        os.environ["AGGREGATOR_STORE"] = _previous
