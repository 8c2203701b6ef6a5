"""Whether the AMQP source has subscribed to its queues, for ``/readyz``.

A worker is not ready until the bridge consumes: RabbitMQ drops a message published to
a queue nobody has declared yet, and the bridge is what declares the source queues, so
a publisher that waits for ``/readyz`` loses nothing. Once subscribed, the robust
connection re-subscribes by itself after an outage; readiness stays up meanwhile, since
HTTP and topic intake still work without RabbitMQ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class BridgeStatus:
    """The AMQP source's state as readiness sees it."""

    enabled: bool = False
    consuming: bool = False

    def readiness(self) -> dict[str, Any]:
        """The fields ``/readyz`` adds: nothing when the bridge is off."""
        return {"amqp_consuming": self.consuming} if self.enabled else {}

    @property
    def ready(self) -> bool:
        """Off, or subscribed to every source queue at least once."""
        return self.consuming or not self.enabled


BRIDGE = BridgeStatus()
