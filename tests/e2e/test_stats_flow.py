"""The fleet's metrics after a real pull request: `tickborg stats` beside every worker process.

The counters must tell what happened: one webhook, one job for each worker on
the way, one evaluation of `main`, one build on x86_64-linux that succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.whole_fleet import MONOREPO, SYSTEM, Flow
from support.metrics import scrape, stats_consuming, value
from support.process import tickborg_process, wait_until
from support.rabbit import free_port
from support.runtime import Broker

from tickborg.config import load_config

IDENTITY = "test-node"


def _sender(process: str) -> str:
    return f"{IDENTITY}/{process}"


@pytest.fixture
def metrics_url(flow: Flow, tmp_path: Path) -> Iterator[str]:
    """`tickborg stats` on the fleet's broker, consuming before anything happens."""
    port = free_port()
    data = json.loads(flow.config_path.read_text())
    data["stats"] = {"listen": f"127.0.0.1:{port}"}
    config_path = tmp_path / "stats-config.json"
    config_path.write_text(json.dumps(data))
    with Broker(load_config(config_path).rabbitmq) as broker, tickborg_process("stats", config_path, tmp_path / "stats.log"):
        wait_until(lambda: stats_consuming(broker), timeout=30)
        yield f"http://127.0.0.1:{port}/metrics"


def test_metrics_count_what_a_pull_request_went_through(flow: Flow, metrics_url: str) -> None:
    title = "libfoo: make it faster"
    head = flow.create_pr({"libfoo/Makefile": MONOREPO["libfoo/Makefile"] + "# faster\n"}, title)
    flow.announce(head, title)
    wait_until(lambda: flow.completed(head, "libfoo on x86_64-linux"), timeout=120)
    poster = _sender("github-comment-poster")
    builder = _sender("builder")
    # The evaluation's status and labels, the QueuedBuildJobs, the build's start and
    # its result; and the builder's own events, which its emitter sends in batches.
    wait_until(
        lambda: (got := scrape(metrics_url))
        and value(got, "tickborg_jobs_decoded_total", sender=poster, result="success") == 5
        and value(got, "tickborg_builds_finished_total", sender=builder, system=SYSTEM, status="Success") == 1,
        30,
    )
    got = scrape(metrics_url)
    assert value(got, "tickborg_webhooks_received_total", sender=_sender("github-webhook-receiver"), event="pull_request") == 1
    for process, jobs in (("evaluation-filter", 1), ("mass-rebuilder", 1), ("builder", 1), ("github-comment-poster", 5)):
        assert value(got, "tickborg_jobs_received_total", sender=_sender(process)) == jobs, process
        assert value(got, "tickborg_jobs_decoded_total", sender=_sender(process), result="success") == jobs, process
        assert value(got, "tickborg_jobs_decoded_total", sender=_sender(process), result="failure") == 0, process
    rebuilder = _sender("mass-rebuilder")
    assert value(got, "tickborg_evaluations_total", sender=rebuilder, branch="main") == 1
    assert value(got, "tickborg_evaluation_duration_seconds_count", sender=rebuilder, branch="main") == 1
    assert value(got, "tickborg_builds_started_total", sender=builder, system=SYSTEM) == 1
    assert value(got, "tickborg_builds_finished_total", sender=builder, system=SYSTEM, status="Success") == 1
    assert not any(name in ("tickborg_dead_lettered_total", "tickborg_github_api_errors_total") for name, _ in got)
