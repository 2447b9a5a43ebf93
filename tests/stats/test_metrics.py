"""Events into metrics, and every kind of malformed event refused (pure, no broker)."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from support.metrics import samples, value

from tickborg.errors import DecodeError
from tickborg.messages import Event, EventMessage
from tickborg.runtime.actions import Ack
from tickborg.stats.metrics import Metrics
from tickborg.stats.worker import StatsCollector

SENDER = "node-1/builder"


def _exposed(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return samples(generate_latest(metrics.registry).decode())


def test_every_known_event_lands_in_its_metric() -> None:
    metrics = Metrics()
    StatsCollector(metrics).handle(EventMessage(SENDER, (
        Event.of("job-received"), Event.of("job-received"),
        Event.of("job-decode-success"), Event.of("job-decode-failure"),
        Event.of("dead-lettered", "build-inputs-x86_64-linux"),
        Event.of("issue-already-closed"), Event.of("issue-fetch-failed"),
        Event.of("evaluation-duration", "main", 12), Event.of("evaluation-duration-count", "main"),
        Event.of("build-started", "x86_64-linux"), Event.of("build-finished", "x86_64-linux", "Success"),
        Event.of("github-api-error", "RateLimited"), Event.of("webhook-received", "pull_request"),
    )))
    got = _exposed(metrics)
    assert value(got, "tickborg_jobs_received_total", sender=SENDER) == 2
    assert value(got, "tickborg_jobs_decoded_total", sender=SENDER, result="success") == 1
    assert value(got, "tickborg_jobs_decoded_total", sender=SENDER, result="failure") == 1
    assert value(got, "tickborg_dead_lettered_total", sender=SENDER, queue="build-inputs-x86_64-linux") == 1
    assert value(got, "tickborg_issues_already_closed_total", sender=SENDER) == 1
    assert value(got, "tickborg_issue_fetches_failed_total", sender=SENDER) == 1
    assert value(got, "tickborg_evaluations_total", sender=SENDER, branch="main") == 1
    assert value(got, "tickborg_evaluation_duration_seconds_sum", sender=SENDER, branch="main") == 12
    assert value(got, "tickborg_evaluation_duration_seconds_bucket", sender=SENDER, branch="main", le="15.0") == 1
    assert value(got, "tickborg_evaluation_duration_seconds_bucket", sender=SENDER, branch="main", le="5.0") == 0
    assert value(got, "tickborg_builds_started_total", sender=SENDER, system="x86_64-linux") == 1
    assert value(got, "tickborg_builds_finished_total", sender=SENDER, system="x86_64-linux", status="Success") == 1
    assert value(got, "tickborg_github_api_errors_total", sender=SENDER, variant="RateLimited") == 1
    assert value(got, "tickborg_webhooks_received_total", sender=SENDER, event="pull_request") == 1
    assert value(got, "tickborg_events_total", sender=SENDER, event="job-received") == 2


def test_an_unknown_event_is_counted_as_other() -> None:
    metrics = Metrics()
    collector = StatsCollector(metrics)
    message = collector.decode("", "application/json", b'{"sender": "s", "events": [{"cache-hit": ["x", 1]}]}')
    assert collector.handle(message) == [Ack()]
    assert value(_exposed(metrics), "tickborg_events_total", sender="s", event="other") == 1


def _series(metrics: Metrics, name: str) -> int:
    return sum(1 for sample, _ in _exposed(metrics) if sample == name)


def test_a_thousand_unknown_names_make_a_bounded_number_of_series() -> None:
    metrics = Metrics()
    collector = StatsCollector(metrics)
    collector.handle(EventMessage(SENDER, tuple(Event.of(f"new-event-{n}") for n in range(1000))))
    webhooks = [*(f"event_{n}" for n in range(1000)), "pull_request", "ping", "unknown"]
    collector.handle(EventMessage(SENDER, tuple(Event.of("webhook-received", name) for name in webhooks)))
    got = _exposed(metrics)
    # Known names keep their own label; every other name shares one.
    assert _series(metrics, "tickborg_events_total") == 2  # other, webhook-received
    assert value(got, "tickborg_events_total", sender=SENDER, event="other") == 1000
    assert value(got, "tickborg_events_total", sender=SENDER, event="webhook-received") == 1003
    assert _series(metrics, "tickborg_webhooks_received_total") == 4
    assert value(got, "tickborg_webhooks_received_total", sender=SENDER, event="other") == 1000
    for name in ("pull_request", "ping", "unknown"):
        assert value(got, "tickborg_webhooks_received_total", sender=SENDER, event=name) == 1


def test_the_process_reports_its_own_metrics() -> None:
    names = {name for name, _ in _exposed(Metrics())}
    assert {"process_cpu_seconds_total", "python_info"} <= names


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"events": []}',  # no sender
        b'{"sender": "s"}',  # no events
        b'{"sender": "s", "events": "job-received"}',
        b'{"sender": "s", "events": ["Job_Received"]}',  # not kebab-case
        b'{"sender": "s", "events": [{"a": 1, "b": 2}]}',  # two keys
        b'{"sender": "s", "events": [{"build-started": [["nested"]]}]}',
        b'{"sender": "s", "events": [{"job-received": "x"}]}',  # a field it does not take
        b'{"sender": "s", "events": ["build-started"]}',  # no system
        b'{"sender": "s", "events": [{"build-started": 7}]}',  # a system that is no string
        b'{"sender": "s", "events": [{"build-finished": "x86_64-linux"}]}',  # no status
        b'{"sender": "s", "events": [{"dead-lettered": ["q", "extra"]}]}',
        b'{"sender": "s", "events": [{"evaluation-duration": "main"}]}',
        b'{"sender": "s", "events": [{"evaluation-duration": ["main", "12"]}]}',
        b'{"sender": "s", "events": [{"evaluation-duration": ["main", -1]}]}',
        b'{"sender": "s", "events": [{"evaluation-duration": ["main", true]}]}',
        b'{"sender": "s", "events": [{"evaluation-duration": [3, 12]}]}',
    ],
)
def test_a_malformed_message_is_a_decode_failure(body: bytes) -> None:
    with pytest.raises(DecodeError):
        StatsCollector(Metrics()).decode("", "application/json", body)
