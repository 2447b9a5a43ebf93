"""Workers signalled in the middle of a job while the whole fleet runs: the job completes, once.

Each kind of worker on a pull request's way (evaluation-filter, mass-rebuilder,
builder, github-comment-poster, log-message-collector) is caught mid-job, then
SIGKILLed (a crash) or SIGTERMed (a stop); a replacement is started, as systemd
would. What must hold (SPEC §4, docs/ack-policies.md):

- SIGKILL: the worker settled nothing, so the broker holds the job again and the
  replacement completes it;
- SIGTERM: the worker exits 0, having finished its job within
  `rabbitmq.shutdown_grace_seconds` or handed it back to the broker (the
  builder at once; others when the grace runs out, or a job not begun);
- duplicates are harmless: the accounting ledger finds the webhook completed;
  one check run for the build, completed with success, never moved backwards;
  each log line stored once, in order; nothing dead-lettered.

"Mid-job": the mass-rebuilder and the status reporter are held in a GitHub call
that the fake delays; the builder runs a slow build; the evaluation-filter and
the log collector, whose jobs take milliseconds, are paused (SIGSTOP) while the
broker has handed them deliveries they have not settled.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Callable

import attrs
import pytest

from fault_fleet import FIRST_PR, LIBFOO_RUN, FaultFleet, PullRequest, StartFleet
from fleet_control import Worker, config_variant, consumers, declare_topology, view, worker
from support.process import tickborg_process, wait_until
from support.whole_fleet import MONOREPO, PROCESSES, SYSTEM
from tickborg.config import RabbitMQConfig
from tickborg.fakegithub.faults import delay
from tickborg.fakegithub.testing import TEST_REPO
from tickborg.topology import BUILD_LOGS, EVALUATION_INPUTS

COLLECTOR = "log-message-collector"
QUEUE_OF = {process: queue for queue, process in consumers(SYSTEM).items()}
TITLE = "libfoo: louder"
ISSUE = f"/repos/{TEST_REPO}/issues/{FIRST_PR}"
CHECK_RUN = rf"/repos/{TEST_REPO}/check-runs/\d+"
SUCCESS = f"completed: eval success; {LIBFOO_RUN}: success"
LOG_LINES = [f"line {n}" for n in range(1, 21)]
# Ten lines, a pause long enough to catch the build (and its log) in the middle, ten more.
SLOW_MAKEFILE = (
    "all: libfoo.out\n"
    "libfoo.out:\n"
    "\tfor n in $$(seq 1 10); do echo \"line $$n\"; done\n"
    "\tsleep 3\n"
    "\tfor n in $$(seq 11 20); do echo \"line $$n\"; done\n"
    "\techo libfoo > libfoo.out\n"
    "check: all\n"
    "\ttest -s libfoo.out\n"
)
QUICK_MAKEFILE = MONOREPO["libfoo/Makefile"] + "# louder\n"
MOVES = ("queued", "in_progress", "completed")


@attrs.define
class Scene:
    """The fleet with the signalled worker's first process, and the PR it works on."""

    fleet: FaultFleet
    first: Worker
    rabbitmq: RabbitMQConfig
    logs: Path  # log_storage.path

    def create(self, makefile: str) -> PullRequest:
        head = self.fleet.flow.create_pr({"libfoo/Makefile": makefile}, TITLE, number=FIRST_PR)
        return PullRequest(FIRST_PR, head, TITLE)

    def open(self, makefile: str) -> PullRequest:
        pr = self.create(makefile)
        self.fleet.announce(pr)
        return pr

    def status(self, pr: PullRequest) -> str | None:
        return self.fleet.flow.runs(pr.head).get(LIBFOO_RUN, {}).get("status")

    def stored_lines(self) -> list[str]:
        """The build's lines that the log collector stored, in the order of the log."""
        logs = [path for path in self.logs.glob("tick-org/*/*") if path.is_file() and "." not in path.name]
        return [line for path in logs for line in path.read_text().splitlines() if line.startswith("line ")]

    def results_stored(self) -> int:
        return len(list(self.logs.glob("tick-org/*/*.result.json")))


def hold_filter(scene: Scene) -> PullRequest:
    """Paused while the broker hands it the PR's webhook."""
    pr = scene.create(QUICK_MAKEFILE)
    wait_until(lambda: view(scene.rabbitmq, EVALUATION_INPUTS).consumers == 1, 60)
    scene.first.send(signal.SIGSTOP)
    scene.fleet.announce(pr)  # accepted once the webhook is in the queue
    wait_until(lambda: view(scene.rabbitmq, EVALUATION_INPUTS).ready == 0, 60)  # and handed to the filter
    return pr


def hold_rebuilder(seconds: float) -> Callable[[Scene], PullRequest]:
    """In the evaluation's first read (the PR's issue), which the fake GitHub answers
    `seconds` late. (Its writes are the reporter's: it makes no GitHub call after.)"""

    def hold(scene: Scene) -> PullRequest:
        rule = scene.fleet.fake.fail(delay(seconds), "GET", ISSUE)
        pr = scene.open(QUICK_MAKEFILE)
        wait_until(lambda: rule.remaining == 0, 60)  # the call has begun
        return pr

    return hold


def hold_builder(scene: Scene) -> PullRequest:
    """In a build (its check run in progress), which takes a few seconds more."""
    pr = scene.open(SLOW_MAKEFILE)
    wait_until(lambda: scene.status(pr) == "in_progress", 90)
    return pr


def hold_poster(seconds: float) -> Callable[[Scene], PullRequest]:
    """In the call completing the check run, which the fake GitHub answers `seconds` late."""

    def hold(scene: Scene) -> PullRequest:
        pr = scene.open(SLOW_MAKEFILE)
        wait_until(lambda: scene.status(pr) == "in_progress", 90)
        rule = scene.fleet.fake.fail(delay(seconds), "PATCH", CHECK_RUN)  # the build still runs
        wait_until(lambda: rule.remaining == 0, 60)
        return pr

    return hold


def hold_collector(scene: Scene) -> PullRequest:
    """Paused with the log begun on disk, and the rest of it (the result too) delivered to it."""
    pr = scene.open(SLOW_MAKEFILE)
    wait_until(lambda: len(scene.stored_lines()) >= 1, 90)
    scene.first.send(signal.SIGSTOP)
    assert scene.results_stored() == 0, "the build ended before the collector was paused"
    wait_until(lambda: scene.status(pr) == "completed" and view(scene.rabbitmq, BUILD_LOGS).ready == 0, 90)
    return pr


@attrs.frozen
class Case:
    worker: str
    sig: signal.Signals
    hold: Callable[[Scene], PullRequest]
    handed_back: bool  # the job went back to the broker (else the signalled worker finished it)
    grace: float | None = None  # the signalled worker's shutdown_grace_seconds, when not the fleet's 10 s

    @property
    def id(self) -> str:
        return f"{self.worker}-{self.sig.name}" + ("-beyond-grace" if self.grace is not None else "")


KILL, TERM = signal.SIGKILL, signal.SIGTERM
CASES = [
    Case("evaluation-filter", KILL, hold_filter, handed_back=True),
    Case("evaluation-filter", TERM, hold_filter, handed_back=True),
    Case("mass-rebuilder", KILL, hold_rebuilder(5), handed_back=True),
    Case("mass-rebuilder", TERM, hold_rebuilder(2), handed_back=False),
    Case("mass-rebuilder", TERM, hold_rebuilder(5), handed_back=True, grace=1),
    Case("builder", KILL, hold_builder, handed_back=True),
    Case("builder", TERM, hold_builder, handed_back=True),
    Case("github-comment-poster", KILL, hold_poster(5), handed_back=True),
    Case("github-comment-poster", TERM, hold_poster(2), handed_back=False),
    Case(COLLECTOR, KILL, hold_collector, handed_back=True),
    Case(COLLECTOR, TERM, hold_collector, handed_back=True),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_worker_signalled_mid_job_leaves_the_job_completed_once(
    case: Case, start_fleet: StartFleet, rabbitmq_config: RabbitMQConfig, tmp_path: Path
) -> None:
    fleet = start_fleet(processes=[name for name in PROCESSES if name != case.worker])
    queue, logs = QUEUE_OF[case.worker], tmp_path / "logs"
    config = config_variant(fleet.flow.config_path, case.worker, log_storage={"path": str(logs)})
    declare_topology(config)
    first_config = config
    if case.grace is not None:
        first_config = config_variant(config, f"first-{case.worker}", rabbitmq={"shutdown_grace_seconds": case.grace})
    with worker(case.worker, first_config, tmp_path / f"first-{case.worker}.log") as first:
        scene = Scene(fleet, first, rabbitmq_config, logs)
        pr = case.hold(scene)
        first.send(case.sig)
        first.send(signal.SIGCONT)  # a paused worker acts on SIGTERM once it runs again
        assert first.exit_status() == (0 if case.sig is TERM else -KILL), first.log()[-3000:]
    wait_until(lambda: view(rabbitmq_config, queue).consumers == 0, 30)  # its connection's end taken
    # The broker holds the job again, or none: the worker finished it.
    assert (view(rabbitmq_config, queue).ready > 0) == case.handed_back
    with tickborg_process(case.worker, config, tmp_path / f"second-{case.worker}.log"):
        wait_until(lambda: view(rabbitmq_config, queue).consumers == 1, 60)  # the replacement is up
        assert [account.outcome for account in fleet.ledger.wait_all_accounted(120)] == [SUCCESS]
        if case.worker == COLLECTOR:
            wait_until(lambda: scene.results_stored() == 1, 60)

    flow = fleet.flow
    runs = flow.fake.state.check_runs(TEST_REPO, pr.head)
    assert [(run["name"], run["status"], run["conclusion"]) for run in runs] == [(LIBFOO_RUN, "completed", "success")]
    moves = flow.run_moves()
    assert moves == sorted(moves, key=MOVES.index), moves  # never backwards
    statuses = [s["description"] for s in flow.fake.state.statuses(TEST_REPO, pr.head) if s["context"] == "tickborg-eval"]
    # Once: an evaluation the mass-rebuilder began and handed back had sent nothing yet.
    assert statuses.count("Starting") == 1, statuses
    if case.worker == COLLECTOR:
        assert scene.stored_lines() == LOG_LINES
    assert fleet.ledger.dead_letters() == []
