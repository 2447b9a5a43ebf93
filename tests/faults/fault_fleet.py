"""The whole fleet for fault tests, with the accounting ledger: several PRs in, every outcome counted.

`fault_fleet(...)` runs the fleet of tests/support/whole_fleet.py (the receiver
in this process, every other worker its own `tickborg` process) and hands out a
`FaultFleet`: `send(n)` opens n PRs, each touching libfoo, has the fake GitHub
deliver their webhooks to the receiver (signed, once, as GitHub does) and
records each one the receiver accepted in `ledger`.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import attrs

from support.accounting import Ledger, Webhook
from support.receiving import WEBHOOK_SECRET, receiver_healthy
from support.whole_fleet import MONOREPO, PROCESSES, SYSTEM, Flow, running_flow
from tickborg.config import RabbitMQConfig, load_config
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.keys import AppKeyPair

LIBFOO_RUN = f"libfoo on {SYSTEM}"
FIRST_PR = 101
# Many PRs' status and check-run writes: the client's write pace (1/s, made to
# keep real GitHub's secondary limits away) would only make the tests wait. Every
# evaluation step written as it begins: the faults land on each of those writes.
FAST_WRITES: Mapping[str, Any] = {"writes_per_second": 0.0, "progress_status_delay_seconds": 0.0}


@attrs.frozen
class PullRequest:
    number: int
    head: str
    title: str


class FaultFleet:
    """The running fleet, its fake GitHub, and the ledger of the webhooks it accepted."""

    def __init__(self, flow: Flow, ledger: Ledger, receiver_url: str) -> None:
        self.flow = flow
        self.ledger = ledger
        self.fake = flow.fake
        self.receiver_url = receiver_url
        self._next = FIRST_PR

    def open_pr(self) -> PullRequest:
        """A new PR touching libfoo (its own change, so its own head), not announced yet."""
        number, self._next = self._next, self._next + 1
        title = f"libfoo: change {number}"
        files = {"libfoo/Makefile": MONOREPO["libfoo/Makefile"] + f"# change {number}\n"}
        return PullRequest(number, self.flow.create_pr(files, title, number=number), title)

    def deliver(self, pr: PullRequest, runs: Sequence[str] = (LIBFOO_RUN,)) -> Webhook | None:
        """GitHub delivers the PR's webhook once; recorded if the receiver answered 200, else None."""
        delivery = self.fake.send_event("pull_request", self.flow.opened(pr.head, pr.title, pr.number))
        return self.ledger.accepted(pr.number, pr.head, runs) if delivery.status_code == 200 else None

    def announce(self, pr: PullRequest, runs: Sequence[str] = (LIBFOO_RUN,)) -> Webhook:
        """As `deliver`, for a receiver that must accept it."""
        webhook = self.deliver(pr, runs)
        assert webhook is not None, f"the receiver refused the webhook of PR #{pr.number}"
        return webhook

    def send(self, count: int) -> list[Webhook]:
        """`count` new PRs, each announced."""
        return [self.announce(self.open_pr()) for _ in range(count)]

    def receiver_ready(self) -> bool:
        """The receiver would accept a webhook: its broker channel is up."""
        return receiver_healthy(self.receiver_url)

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
    """The fleet on `rabbitmq` until the block ends; then every worker must still be running.
    The ledger's summary is left in `tmp_path/accounting.txt`."""
    with running_flow(rabbitmq, tmp_path, fake, app_key, processes, github_app=FAST_WRITES) as flow:
        config = load_config(flow.config_path)
        assert config.github_webhook_receiver is not None
        receiver_url = f"http://{config.github_webhook_receiver.listen}/"
        fake.configure_hook(receiver_url, WEBHOOK_SECRET)
        fleet = FaultFleet(flow, Ledger(fake, config), receiver_url)
        try:
            yield fleet
        finally:
            # Beside the workers' logs, for whoever reads a failure.
            (tmp_path / "accounting.txt").write_text(fleet.ledger.summary() + "\n")
        assert flow.exited() == {}, f"worker processes exited: {flow.exited()}"


# `start_fleet(processes=PROCESSES, **rabbitmq_settings)`, the fixture in conftest.py.
StartFleet = Callable[..., FaultFleet]
