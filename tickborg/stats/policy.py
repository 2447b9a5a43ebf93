"""The stats process's ack policy: one table (SPEC §5)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, auto

from tickborg.filters.policy import Verdict


class Case(Enum):
    UNDECODABLE = auto()
    RECORDED = auto()


POLICY: Mapping[Case, Verdict] = {
    Case.UNDECODABLE: Verdict.NACK_DUMP,  # applied by the runtime when `decode` raises
    Case.RECORDED: Verdict.ACK,
}
