"""RabbitMQ restarted under the whole fleet while jobs are in flight: every webhook the
receiver accepted reaches its outcome, and no worker process exits or needs a restart.

The fleet runs on a private node (tests/support/rabbit.py), restarted once
PRs are being evaluated, built and reported; more PRs follow once the
receiver's broker channel is back. The accounting ledger traces each accepted
webhook to its completed eval status and check run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fault_fleet import LIBFOO_RUN, fault_fleet
from support.process import wait_until
from support.rabbit import PrivateNode
from tickborg.config import RabbitMQConfig, Secret
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.keys import AppKeyPair

pytestmark = pytest.mark.private_broker

SUCCESS = "completed: eval success; libfoo on x86_64-linux: success"


def test_a_broker_restart_with_jobs_in_flight_loses_no_accepted_webhook(
    private_node: PrivateNode, tmp_path: Path, fake_github: FakeGitHub, github_app_key: AppKeyPair
) -> None:
    rabbitmq = RabbitMQConfig(
        port=private_node.port,
        password=Secret("guest", "test"),
        heartbeat_seconds=10,
        retry_base_seconds=0.2,
        retry_cap_seconds=2.0,
        shutdown_grace_seconds=10,
    )
    with fault_fleet(rabbitmq, tmp_path, fake_github, github_app_key) as fleet:
        before = fleet.send(4)
        # The first PR's build scheduled: the others are still being evaluated.
        wait_until(lambda: LIBFOO_RUN in fleet.flow.runs(before[0].head), timeout=60)
        assert [account for account in fleet.ledger.report() if account.outcome is None]
        private_node.restart()
        # Until its broker channel is back the receiver answers 503: GitHub's delivery would fail, not be lost here.
        wait_until(fleet.receiver_ready, timeout=120)
        fleet.send(2)
        accounts = fleet.ledger.wait_all_accounted(timeout=240)
        # An evaluation whose ack the restart lost runs again: the same request, so the
        # same check run, never a second of its name.
        assert [account.outcome for account in accounts] == [SUCCESS] * 6, accounts
        assert len(accounts) == 6
        assert fleet.ledger.dead_letters() == []
        assert fleet.flow.exited() == {}
