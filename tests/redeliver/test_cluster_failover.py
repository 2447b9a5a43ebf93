"""A three-node RabbitMQ cluster loses the node every process is connected to, mid-stream.

The receiver and the evaluation filter run as their own processes with
`rabbitmq.hosts` naming the three private nodes; the first answers, so both are
on it. The fake GitHub sends pull_request events one after another, and the
first node is killed (SIGKILL to its VM) partway through. Both processes fail
over to another node by themselves (neither is restarted: they still run, and
exit 0 on SIGTERM at the end). Deliveries answered 503 while the receiver
changed node are redelivered by one `redeliver-webhooks` pass, and then every
event sent has its evaluation job in the (quorum, replicated) jobs queue.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

from redeliver_setup import Setup, attempts, redeliver
from support.process import tickborg_process, wait_until
from support.rabbit import PrivateCluster
from support.runtime import Broker, drain
from support.webhooks import load_webhook
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.testing import TEST_REPO
from tickborg.topology import EVALUATION_JOBS

EVENTS = 60
LOSE_NODE_AT = 20
PROCESSES = ("github-webhook-receiver", "evaluation-filter")


def pull_request(n: int) -> dict[str, Any]:
    payload = load_webhook("pull_request.opened", TEST_REPO)
    pull = payload["pull_request"]
    payload["number"] = pull["number"] = n
    pull["head"]["sha"], pull["base"]["ref"], pull["draft"] = f"{n:040x}", "main", False
    return payload


def test_losing_the_node_every_process_uses_loses_no_webhook_and_restarts_no_process(
    make_setup: Callable[..., Setup], fake_github: FakeGitHub, private_cluster: PrivateCluster, tmp_path: Path
) -> None:
    setup = make_setup(fake_github, private_cluster.rabbitmq)
    first = private_cluster.nodes[0]
    setup.declare_topology()  # on the first node, replicated to all three
    logs = {name: tmp_path / f"{name}.log" for name in PROCESSES}
    with ExitStack() as stack:
        processes = [stack.enter_context(tickborg_process(name, setup.path, logs[name])) for name in PROCESSES]
        wait_until(setup.receiver_is_healthy, timeout=60)
        sent = []
        for n in range(1, EVENTS + 1):
            if n == LOSE_NODE_AT:
                first.kill()
            sent.append(fake_github.send_event("pull_request", pull_request(n)))
            time.sleep(0.1)
        wait_until(setup.receiver_is_healthy, timeout=60)
        assert redeliver(setup) == 0
        guids = {d.guid for d in sent}
        wait_until(lambda: {d.guid for d in attempts(fake_github) if d.status_code == 200} == guids, timeout=60)

        evaluated: set[int] = set()

        def every_pr_evaluated() -> bool:
            evaluated.update(json.loads(body)["pr"]["number"] for body in drain(reader, EVALUATION_JOBS))
            return evaluated == set(range(1, EVENTS + 1))

        with Broker(setup.config.rabbitmq) as reader:  # the first node is gone: another answers
            wait_until(every_pr_evaluated, timeout=120)
        assert [process.poll() for process in processes] == [None] * len(PROCESSES)
    for name, log in logs.items():
        assert "reconnecting" in log.read_text(), f"{name} never lost its node"
