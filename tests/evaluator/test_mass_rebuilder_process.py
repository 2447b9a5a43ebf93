"""`tickborg mass-rebuilder` as a real process on the machine's RabbitMQ, with
real git and the fake GitHub: jobs in, builds and what to write to GitHub out
(the status reporter writes it), garbage dead-lettered, GitHub failures retried
through the broker's delay queues."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from evaluator_scene import PROJECTS, Scene
from support.config import base_config_data
from support.process import tickborg_process
from support.rabbit import SHARED_HOST
from support.runtime import Broker

from tickborg.broker import declare
from tickborg.config import RabbitMQConfig, load_config
from tickborg.fakegithub.faults import Fault, rate_limited, server_error
from tickborg.fakegithub.keys import AppKeyPair
from tickborg.fakegithub.testing import TEST_APP_ID, TEST_REPO
from tickborg.messages import CommitStatusWrite, EvaluationJob, LabelsWrite, Pr
from tickborg.reporter.inputs import decode_incoming
from tickborg.runtime.retry import DEAD_REASON_HEADER
from tickborg.topology import (
    BUILD_RESULTS_QUEUE,
    EVALUATION_JOBS,
    build_queue,
    build_topology,
    dead_queue,
)

pytestmark = pytest.mark.broker

PR = 21
GARBAGE = b'{"repo": "not an object"}'


def write_config(tmp_path: Path, rabbitmq: RabbitMQConfig, scene: Scene, key: AppKeyPair, **sections: Any) -> Path:
    pem = tmp_path / "app.pem"
    pem.write_text(key.private_pem)
    pem.chmod(0o600)
    app = {"app_id": TEST_APP_ID, "private_key_file": str(pem), "api_url": scene.fake.url, "timeout_seconds": 5, "writes_per_second": 0}
    defaults = {"github_app": app, "checkout": {"root": str(tmp_path / "checkouts")}, "projects": PROJECTS}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(base_config_data(rabbitmq, **{**defaults, **sections})))
    return path


@pytest.fixture
def config_path(tmp_path: Path, rabbitmq_config: RabbitMQConfig, scene: Scene, github_app_key: AppKeyPair) -> Path:
    return write_config(tmp_path, rabbitmq_config, scene, github_app_key)


@pytest.fixture
def broker(config_path: Path) -> Iterator[Broker]:
    config = load_config(config_path)
    with Broker(config.rabbitmq) as broker:
        declare(broker.channel, build_topology(config))  # so the test can read every output queue
        yield broker


def send_job(broker: Broker, scene: Scene, head: str) -> None:
    job = EvaluationJob(scene.origin.repo(), Pr(target_branch="main", number=PR, head_sha=head))
    broker.send(EVALUATION_JOBS, job.to_json())


def message(broker: Broker, queue: str) -> Any:
    return json.loads(broker.get(queue, timeout=60)[1])


def test_a_pr_becomes_build_jobs_and_garbage_is_dead_lettered(scene: Scene, broker: Broker, config_path: Path, tmp_path: Path) -> None:
    head = scene.open_pr(PR, {"libfoo/foo.c": "x\n", "app/main.c": "y\n"})
    with tickborg_process("mass-rebuilder", config_path, tmp_path / "rebuilder.log") as process:
        broker.send(EVALUATION_JOBS, GARBAGE)
        send_job(broker, scene, head)
        job = message(broker, build_queue("x86_64-linux"))
        assert message(broker, build_queue("aarch64-linux")) == job
        assert job["attrs"] == ["libfoo", "app"]
        assert job["pr"] == {"target_branch": "main", "number": PR, "head_sha": head}
        # For the status reporter: the labels, the outcome (a quick evaluation shows no step), the runs.
        labels, status = (decode_incoming(broker.get(BUILD_RESULTS_QUEUE, timeout=60)[1]) for _ in range(2))
        assert labels == LabelsWrite(TEST_REPO, PR, ("project: libfoo", "project: app"), ())
        assert isinstance(status, CommitStatusWrite) and (status.context, status.state) == ("tickborg-eval", "success")
        assert message(broker, BUILD_RESULTS_QUEUE) == {"job": job, "architectures": ["x86_64-linux", "aarch64-linux"]}
        props, raw = broker.get(dead_queue(EVALUATION_JOBS), timeout=30)
        assert raw == GARBAGE
        assert props.headers[DEAD_REASON_HEADER].startswith("decode failure")
        assert process.poll() is None
    assert scene.statuses(head) == [] and scene.labels(PR) == []  # the mass-rebuilder writes nothing itself


@pytest.mark.parametrize(
    ("fault", "path"),
    [(server_error(502), f"/repos/{TEST_REPO}/issues/{PR}"), (rate_limited(403, reset_in=2), f"/repos/{TEST_REPO}/commits/.*/statuses")],
    ids=["502", "rate-limit"],
)
def test_github_failures_are_retried_through_the_broker(
    scene: Scene, broker: Broker, config_path: Path, tmp_path: Path, fault: Fault, path: str
) -> None:
    head = scene.open_pr(PR, {"libbar/bar.c": "x\n"})
    scene.fake.fail(fault, None, path, times=1)
    with tickborg_process("mass-rebuilder", config_path, tmp_path / "rebuilder.log"):
        started = time.monotonic()
        send_job(broker, scene, head)
        assert message(broker, build_queue("x86_64-linux"))["attrs"] == ["libbar"]
        elapsed = time.monotonic() - started
    assert fault.status in [call.status for call in scene.fake.calls]
    assert broker.count(dead_queue(EVALUATION_JOBS)) == 0
    if fault.reset_in is not None:
        # The reset is 2 s ahead in whole seconds, so at least 1 s; the backoff alone is far less.
        assert elapsed >= 1.0


@pytest.mark.parametrize("missing", ["github_app", "checkout"])
def test_the_process_needs_its_sections(scene: Scene, tmp_path: Path, github_app_key: AppKeyPair, missing: str) -> None:
    rabbitmq = RabbitMQConfig(host=SHARED_HOST)
    path = write_config(tmp_path, rabbitmq, scene, github_app_key, **{missing: None})
    done = subprocess.run(
        [sys.executable, "-m", "tickborg.cli", "mass-rebuilder", "--config", str(path)], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert f"{missing}: missing" in done.stderr
