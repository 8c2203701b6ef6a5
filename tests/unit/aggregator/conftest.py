"""Unit tests of the aggregator run its agent in Faust's test context on memory stores."""

import os

os.environ.setdefault("AGGREGATOR_STORE", "memory://")
