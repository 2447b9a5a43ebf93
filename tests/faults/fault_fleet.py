"""The whole fleet for fault tests, with the accounting ledger: several PRs in, every outcome counted.

`fault_fleet(...)` runs the fleet of tests/support/whole_fleet.py (the receiver
in this process, every other worker its own `tickborg` process) and hands out a
`FaultFleet`: `send(n)` opens n PRs, each touching libfoo, posts their signed
webhooks through the receiver and records each accepted one in `ledger`.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import attrs

from support.accounting import Ledger, Webhook
from support.whole_fleet import MONOREPO, PROCESSES, SYSTEM, Flow, running_flow
from tickborg.config import RabbitMQConfig, load_config
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.keys import AppKeyPair

LIBFOO_RUN = f"libfoo on {SYSTEM}"
FIRST_PR = 101
# Many PRs' status and check-run writes: the client's write pace (1/s, made to
# keep real GitHub's secondary limits away) would only make the tests wait.
FAST_WRITES: Mapping[str, Any] = {"writes_per_second": 0.0}


@attrs.frozen
class PullRequest:
    number: int
    head: str
    title: str


class FaultFleet:
    def __init__(self, flow: Flow, ledger: Ledger) -> None:
        self.flow = flow
        self.ledger = ledger
        self.fake = flow.fake
        self._next = FIRST_PR

    def open_pr(self) -> PullRequest:
        """A new PR touching libfoo (its own change, so its own head), not announced yet."""
        number, self._next = self._next, self._next + 1
        title = f"libfoo: change {number}"
        files = {"libfoo/Makefile": MONOREPO["libfoo/Makefile"] + f"# change {number}\n"}
        return PullRequest(number, self.flow.create_pr(files, title, number=number), title)

    def announce(self, pr: PullRequest, runs: Sequence[str] = (LIBFOO_RUN,)) -> Webhook:
        """Its webhook through the receiver (which must answer 200), recorded as accepted."""
        self.flow.announce(pr.head, pr.title, number=pr.number)
        return self.ledger.accepted(pr.number, pr.head, runs)

    def send(self, count: int) -> list[Webhook]:
        return [self.announce(self.open_pr()) for _ in range(count)]

    def eval_started(self, webhook: Webhook) -> bool:
        """Its evaluation is under way: the mass-rebuilder set a status on its head."""
        return bool(self.flow.eval_states(webhook.head))


@contextmanager
def fault_fleet(
    rabbitmq: RabbitMQConfig,
    tmp_path: Path,
    fake: FakeGitHub,
    app_key: AppKeyPair,
    processes: Sequence[str] = PROCESSES,
) -> Iterator[FaultFleet]:
    """The fleet on `rabbitmq` until the block ends; then every worker must still be running."""
    with running_flow(rabbitmq, tmp_path, fake, app_key, processes, github_app=FAST_WRITES) as flow:
        yield FaultFleet(flow, Ledger(fake, load_config(flow.config_path)))
        assert flow.exited() == {}, f"worker processes exited: {flow.exited()}"
