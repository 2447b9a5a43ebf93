"""Publisher confirms bookkeeping: which futures an ack or nack settles."""

from concurrent.futures import Future

import pytest

from tickborg.publisher import Confirmations, Nacked, Unavailable


def publish(confirms: Confirmations, n: int) -> list[Future[None]]:
    futures: list[Future[None]] = [Future() for _ in range(n)]
    for future in futures:
        confirms.published(future)
    return futures


def test_single_ack_settles_only_its_tag() -> None:
    confirms = Confirmations()
    one, two, three = publish(confirms, 3)
    confirms.ack(2, multiple=False)
    assert (one.done(), two.done(), three.done()) == (False, True, False)
    assert two.result() is None


def test_multiple_ack_settles_every_tag_up_to_its_own() -> None:
    confirms = Confirmations()
    futures = publish(confirms, 5)
    confirms.ack(2, multiple=False)
    confirms.ack(4, multiple=True)
    assert [f.done() for f in futures] == [True, True, True, True, False]


def test_nack_fails_its_futures() -> None:
    confirms = Confirmations()
    one, two = publish(confirms, 2)
    confirms.nack(2, multiple=True)
    for future in (one, two):
        with pytest.raises(Nacked):
            future.result()


def test_fail_all_fails_everything_outstanding() -> None:
    confirms = Confirmations()
    futures = publish(confirms, 3)
    confirms.ack(1, multiple=False)
    confirms.fail_all(Unavailable("lost"))
    assert futures[0].result() is None
    for future in futures[1:]:
        assert isinstance(future.exception(), Unavailable)
    confirms.fail_all(Unavailable("again"))  # nothing is left to fail twice


def test_unknown_or_repeated_tags_are_ignored() -> None:
    confirms = Confirmations()
    (only,) = publish(confirms, 1)
    confirms.ack(7, multiple=False)
    confirms.ack(1, multiple=False)
    confirms.ack(1, multiple=True)
    assert only.result() is None


def test_a_batch_completes_with_its_last_confirm_and_fails_with_any_nack() -> None:
    confirms = Confirmations()
    first: Future[None] = Future()
    second: Future[None] = Future()
    for future, count in ((first, 3), (second, 2)):
        for i in range(count):
            confirms.published(future, last=i == count - 1)
    confirms.ack(2, multiple=True)
    assert not first.done()
    confirms.nack(4, multiple=False)
    confirms.ack(5, multiple=True)
    assert first.result() is None
    with pytest.raises(Nacked):
        second.result()
