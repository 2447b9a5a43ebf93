"""`enact`: a decision's case, looked up in a table, becomes the runtime's actions."""

from __future__ import annotations

from enum import Enum, auto

import pytest

from tickborg.filters.policy import Decision, Verdict, enact
from tickborg.runtime.actions import Ack, NackDump, NackRequeue, Publish


class Case(Enum):
    GO = auto()
    SKIP = auto()
    LATER = auto()
    BROKEN = auto()


TABLE = {Case.GO: Verdict.PUBLISH_ACK, Case.SKIP: Verdict.ACK, Case.LATER: Verdict.NACK_REQUEUE, Case.BROKEN: Verdict.NACK_DUMP}
ONE = Publish("", "q1", b"1")
TWO = Publish("x", "q2", b"2")


def test_each_verdict() -> None:
    assert enact(TABLE, Decision(Case.GO, (ONE, TWO))) == [ONE, TWO, Ack()]
    assert enact(TABLE, Decision(Case.SKIP, reason="why")) == [Ack()]
    assert enact(TABLE, Decision(Case.LATER, reason="busy", not_before=12.5)) == [NackRequeue("busy", 12.5)]
    assert enact(TABLE, Decision(Case.BROKEN, reason="bad")) == [NackDump("bad")]


def test_several_decisions_publish_in_order_then_share_one_ack() -> None:
    decisions = (Decision(Case.GO, (ONE,)), Decision(Case.SKIP), Decision(Case.GO, (TWO,)))
    assert enact(TABLE, *decisions) == [ONE, TWO, Ack()]


def test_decisions_disagreeing_on_the_verdict_are_a_bug() -> None:
    with pytest.raises(ValueError, match="disagree"):
        enact(TABLE, Decision(Case.GO, (ONE,)), Decision(Case.LATER))


@pytest.mark.parametrize("decision", [Decision(Case.GO), Decision(Case.SKIP, (ONE,))], ids=["publish-nothing", "ack-publishing"])
def test_a_decision_contradicting_its_row_is_a_bug(decision: Decision) -> None:
    with pytest.raises(ValueError, match="publishes"):
        enact(TABLE, decision)
