"""The write pacer's token bucket."""

from __future__ import annotations

import pytest

from tickborg.fakegithub import ManualClock
from tickborg.github.pacer import Bucket, WritePacer, paused, take


def waits(bucket: Bucket, writes: int, rate: float, burst: int) -> list[float]:
    """How long each of `writes` writers arriving at time 0 waits."""
    result = []
    for _ in range(writes):
        bucket, wait = take(bucket, 0.0, rate=rate, burst=burst)
        result.append(wait)
    return result


def test_a_full_bucket_lets_a_burst_through():
    assert waits(Bucket(3.0, 0.0), 3, rate=1.0, burst=3) == [0.0, 0.0, 0.0]


def test_waiting_writers_are_spaced_one_interval_apart():
    assert waits(Bucket(0.0, 0.0), 3, rate=2.0, burst=1) == [0.5, 1.0, 1.5]


def test_the_bucket_refills_with_time_up_to_the_burst():
    bucket, wait = take(Bucket(0.0, 0.0), 100.0, rate=1.0, burst=2)
    assert wait == 0.0 and bucket.tokens == 1.0


def test_the_pacer_sleeps_for_the_wait():
    clock = ManualClock(0.0)
    pacer = WritePacer(rate=1.0, burst=1, clock=clock, sleep=clock.sleep)
    pacer.wait()
    pacer.wait()
    pacer.wait()
    assert clock() == pytest.approx(2.0)


def test_the_hours_bucket_holds_writes_past_its_budget():
    clock = ManualClock(0.0)
    pacer = WritePacer(rate=10.0, burst=10, clock=clock, sleep=clock.sleep, per_hour=20)
    for _ in range(20):
        pacer.wait()
    assert clock() < 2.0  # the hour's 20, at the second's pace
    pacer.wait()
    assert clock() == pytest.approx(180.0, abs=1.0)  # the next when the hour's bucket has one again: 3600 s / 20


def test_rate_zero_turns_pacing_off():
    clock = ManualClock(0.0)
    pacer = WritePacer(rate=0.0, burst=1, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        pacer.wait()
    assert clock() == 0.0


def test_a_paused_bucket_waits_until_then_and_resumes_one_interval_apart():
    bucket = paused(Bucket(5.0, 0.0), until=60.0)
    assert waits(bucket, 3, rate=1.0, burst=5) == [61.0, 62.0, 63.0]


def test_a_pause_already_over_changes_nothing():
    bucket = Bucket(2.0, 10.0)
    assert paused(bucket, until=5.0) == bucket


def test_the_pacer_holds_every_write_until_the_pause_ends():
    clock = ManualClock(0.0)
    pacer = WritePacer(rate=1.0, burst=5, clock=clock, sleep=clock.sleep)
    pacer.pause_until(30.0)
    pacer.wait()
    assert clock() == pytest.approx(31.0)
