"""Which GUIDs a pass redelivers, from the delivery log alone."""

from __future__ import annotations

from tickborg.github.models import HookDelivery
from tickborg.tools.redeliver import Pending, Plan, plan


def attempt(id: int, guid: str, status_code: int, redelivery: bool = False) -> HookDelivery:
    return HookDelivery(id, guid, 1000.0 + id, redelivery, status_code, "push", None)


def test_a_failed_guid_is_redelivered_from_its_newest_attempt() -> None:
    newest_first = [attempt(3, "a", 503, redelivery=True), attempt(1, "a", 0)]
    assert plan(newest_first, max_attempts=3) == Plan((Pending("a", 3, "push", 1),), ())


def test_a_guid_with_any_2xx_attempt_is_never_redelivered() -> None:
    newest_first = [attempt(4, "a", 0, redelivery=True), attempt(3, "a", 202, redelivery=True), attempt(2, "b", 200), attempt(1, "a", 0)]
    assert plan(newest_first, max_attempts=3) == Plan((), ())


def test_max_attempts_counts_redeliveries_not_the_first_delivery() -> None:
    two = [attempt(3, "a", 0, True), attempt(2, "a", 0, True), attempt(1, "a", 0)]
    assert plan(two, max_attempts=3).pending == (Pending("a", 3, "push", 2),)
    assert plan(two, max_attempts=2) == Plan((), ("a",))


def test_non_2xx_answers_count_as_failures() -> None:
    for status in (0, 199, 300, 404, 500):
        assert [p.guid for p in plan([attempt(1, "a", status)], 3).pending] == ["a"]
