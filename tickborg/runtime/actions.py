"""What a worker asks the runtime to do with a delivery (SPEC §4).

The runtime applies actions in order. Every Publish of a delivery is confirmed
by the broker before that delivery is acknowledged.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, Union

import attrs


class WireMessage(Protocol):
    def to_json(self) -> Any: ...


@attrs.frozen
class Publish:
    exchange: str
    routing_key: str
    message: WireMessage | bytes

    def body(self) -> bytes:
        if isinstance(self.message, bytes):
            return self.message
        return json.dumps(self.message.to_json(), separators=(",", ":")).encode()


@attrs.frozen
class Ack:
    """Done with the delivery: remove it from the queue."""


@attrs.frozen
class NackRequeue:
    """Try again later, with backoff; `not_before` (epoch seconds) delays further."""

    reason: str = ""
    not_before: float | None = None


@attrs.frozen
class NackDump:
    """Reject for good: the delivery goes to its `{queue}.dead` queue."""

    reason: str = ""


Verdict = Union[Ack, NackRequeue, NackDump]
Action = Union[Publish, Ack, NackRequeue, NackDump]
