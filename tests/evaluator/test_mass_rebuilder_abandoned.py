"""A mass-rebuilder job the runtime gives up (its connection lost mid-evaluation)
sends nothing for the status reporter to write: the redelivered copy's writes
are the only ones (issues 17, 18). The real runtime on the machine's RabbitMQ,
the real evaluator with real git, the fake GitHub holding the first run inside
its first read."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from evaluator_scene import PROJECTS, Scene
from support.config import base_config_data
from support.rabbit import ctl
from support.runtime import Broker, RunningWorker, declare_fleet

from tickborg.checkout import Checkouts
from tickborg.config import RabbitMQConfig, parse_config
from tickborg.evaluator.evaluation import Evaluator
from tickborg.evaluator.worker import MassRebuilder
from tickborg.fakegithub.faults import delay
from tickborg.fakegithub.testing import TEST_REPO
from tickborg.github.client import GitHubClient
from tickborg.messages import CommitStatusWrite, EvaluationJob, Pr
from tickborg.reporter.inputs import decode_incoming
from tickborg.topology import BUILD_RESULTS_QUEUE, EVALUATION_JOBS, build_topology

PR = 31
HELD_SECONDS = 4.0
# One evaluation: three progress steps, its outcome, its labels and its queued builds.
ONE_EVALUATION = 6


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout} s"
        time.sleep(0.05)


def test_an_abandoned_evaluation_sends_nothing_beside_its_redelivered_copy(
    scene: Scene, rabbitmq_config: RabbitMQConfig, github_client: GitHubClient, tmp_path: Path
) -> None:
    config = parse_config(base_config_data(rabbitmq_config, projects=PROJECTS))
    declare_fleet(config)
    checkouts = Checkouts(tmp_path / "checkouts", git_timeout_seconds=60)
    rebuilder = MassRebuilder(Evaluator(config, github_client, checkouts, progress_delay=0))  # every step written
    head = scene.open_pr(PR, {"libbar/bar.c": "int bar2;\n"})
    # The first run's first read of GitHub is answered only after HELD_SECONDS.
    scene.fake.faults.add(delay(HELD_SECONDS), "GET", f"/repos/{TEST_REPO}/issues/{PR}", times=1)
    running = RunningWorker(rebuilder, config, queues=(EVALUATION_JOBS,), topology=build_topology(config))
    with running:
        with Broker(config.rabbitmq) as broker:
            job = EvaluationJob(scene.origin.repo(), Pr(target_branch="main", number=PR, head_sha=head))
            broker.send(EVALUATION_JOBS, job.to_json())
        wait_for(lambda: running.runner.in_flight == 1, 10, "the evaluation started")
        time.sleep(0.5)  # inside its held read
        ctl("close_all_connections", "-p", rabbitmq_config.virtualhost, "test: connection lost")
        broker = Broker(config.rabbitmq)
        # The copy evaluates on the new connection while the first run is still held ...
        wait_for(lambda: broker.count(BUILD_RESULTS_QUEUE) >= ONE_EVALUATION, 20, "the redelivered copy's evaluation")
        # ... which then gets its answer, evaluates, and has been given up.
        time.sleep(HELD_SECONDS + 2.0)
        assert running.runner.reconnects == 1
        sent = [decode_incoming(broker.get(BUILD_RESULTS_QUEUE)[1]) for _ in range(broker.count(BUILD_RESULTS_QUEUE))]
        broker.close()
    assert len(sent) == ONE_EVALUATION, sent
    statuses = [(m.state, m.description) for m in sent if isinstance(m, CommitStatusWrite)]
    assert statuses[0] == ("pending", "Starting") and statuses[-1][0] == "success"
    assert scene.statuses(head) == []  # the reporter writes them; none runs here
