"""Right at any scale (issue 18): 3 status reporters, 2 mass-rebuilders and 2
builders take 200 PRs; the active reporter and a builder are SIGKILLed
mid-run, and an evaluation is redelivered after its runs finished. Every
(commit, name) still has exactly one check run, whose history never moves
backwards; every PR ends with one outcome in `tickborg-eval`; nothing is
dead-lettered; and the writes per PR stay within the budget.

The real broker (a vhost of the machine's), every worker its own process,
real git and builds, the fake GitHub over HTTP."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

from support.process import spawn, tickborg_process
from support.rabbit import ctl
from support.runtime import Broker
from support.whole_fleet import SYSTEM, Flow, running_flow

from tickborg.config import RabbitMQConfig, load_config
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.keys import AppKeyPair
from tickborg.fakegithub.testing import TEST_REPO
from tickborg.messages import EvaluationJob, Pr
from tickborg.reporter.progress import Stage
from tickborg.topology import BUILD_RESULTS_QUEUE, EVALUATION_INPUTS, EVALUATION_JOBS, build_queue

PRS = 200
FIRST = 100  # PR numbers FIRST … FIRST + PRS - 1
RUN = f"app on {SYSTEM}"
WORK = (EVALUATION_INPUTS, EVALUATION_JOBS, build_queue(SYSTEM), BUILD_RESULTS_QUEUE)
# The quorum queues' ack of a killed consumer's delivery, and a standby taking over, take moments.
KILL_AFTER_COMPLETED = 20


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, flow: Flow) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert not flow.exited(), f"workers exited: {flow.exited()}"
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.5)


def queue_depths(vhost: str) -> dict[str, int]:
    listing = json.loads(ctl("list_queues", "-p", vhost, "name", "messages", "--formatter", "json"))
    return {row["name"]: int(row["messages"]) for row in listing}


def quiet(vhost: str) -> bool:
    """No message waiting or unacked in the queues of the PRs' journeys."""
    depths = queue_depths(vhost)
    return all(depths.get(queue, 0) == 0 for queue in WORK)


def active_reporter_log(logs: list[Path]) -> Path:
    """The reporter that has handled messages: the queue's single active consumer."""
    handled = [log for log in logs if "queue=build-results" in log.read_text()]
    assert len(handled) == 1, [log.name for log in handled]
    return handled[0]


def run_histories(fake: FakeGitHub, heads: set[str]) -> dict[int, list[str]]:
    """Each run's statuses in the order the fake accepted them."""
    runs = fake.state.check_runs(TEST_REPO)
    by_name = {(run["head_sha"], run["name"]): run["id"] for run in runs}
    histories: dict[int, list[str]] = defaultdict(list)
    for call in fake.calls:
        if "/check-runs" not in call.path or call.status not in (200, 201) or "status" not in (call.body or {}):
            continue
        if call.method == "POST":
            run_id = by_name[(call.body["head_sha"], call.body["name"])]
        else:
            run_id = int(call.path.rsplit("/", 1)[1])
        histories[run_id].append(call.body["status"])
    return histories


def writes_per_pr(fake: FakeGitHub, numbers: dict[str, int]) -> dict[int, Counter[str]]:
    """The content-creating requests GitHub accepted, per PR and kind."""
    by_id = {run["id"]: run["head_sha"] for run in fake.state.check_runs(TEST_REPO)}
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for call in fake.calls:
        if call.method == "GET" or call.status is None or call.status >= 300:
            continue
        parts = call.path.split("/")  # /repos/{owner}/{name}/…
        if parts[4] == "statuses":
            counts[numbers[parts[5]]]["statuses"] += 1
        elif parts[4] == "issues" and parts[6] == "labels":
            counts[int(parts[5])]["labels"] += 1
        elif parts[4] == "check-runs":
            sha = call.body["head_sha"] if call.method == "POST" else by_id[int(parts[5])]
            counts[numbers[sha]]["check runs"] += 1
    return counts


def test_two_hundred_prs_with_kills_and_a_redelivery_end_right(
    rabbitmq_config: RabbitMQConfig, tmp_path: Path, fake_github: FakeGitHub, github_app_key: AppKeyPair
) -> None:
    vhost = rabbitmq_config.virtualhost
    unpaced = {"writes_per_second": 0}  # the budget is the bench's; here, order and counts
    fleet = ("evaluation-filter", "mass-rebuilder", "mass-rebuilder", "builder")
    with running_flow(rabbitmq_config, tmp_path, fake_github, github_app_key, fleet, unpaced) as flow, ExitStack() as stack:
        # The victims are started first and apart: SIGKILLed, they exit with no clean stop.
        victim_logs = {name: tmp_path / f"victim-{name}.log" for name in ("github-comment-poster", "builder")}
        victims = {name: spawn(name, flow.config_path, log) for name, log in victim_logs.items()}
        stack.callback(lambda: [v.kill() for v in victims.values() if v.poll() is None])
        wait_for(lambda: all("consuming" in log.read_text() for log in victim_logs.values()), 60, "victims consuming", flow)
        standby_logs = [tmp_path / f"standby-reporter-{i}.log" for i in (1, 2)]
        for log in standby_logs:
            stack.enter_context(tickborg_process("github-comment-poster", flow.config_path, log))

        numbers: dict[str, int] = {}

        def announce(prs: range) -> None:
            for number in prs:
                title = f"app: change {number}"
                head = flow.create_pr({"app/build.sh": f"#!/bin/sh\necho building app {number}\n"}, title, number=number)
                numbers[head] = number
                flow.announce(head, title, number)

        def completed() -> int:
            return sum(run["status"] == "completed" for run in fake_github.state.check_runs(TEST_REPO))

        # Half the PRs; once some runs completed, the kills; then the other half.
        announce(range(FIRST, FIRST + PRS // 2))
        wait_for(lambda: completed() >= KILL_AFTER_COMPLETED, 300, "the first runs completed", flow)
        assert active_reporter_log([victim_logs["github-comment-poster"], *standby_logs]) == victim_logs["github-comment-poster"]
        for victim in victims.values():
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
        announce(range(FIRST + PRS // 2, FIRST + PRS))
        heads = set(numbers)
        wait_for(lambda: completed() == PRS, 900, "every run completed", flow)
        assert active_reporter_log(standby_logs) in standby_logs  # one standby took over

        # An evaluation delivered again after its runs finished.
        again = min(numbers, key=numbers.__getitem__)
        with Broker(load_config(flow.config_path).rabbitmq) as broker:
            job = EvaluationJob(flow.origin.repo(), Pr(target_branch="main", number=numbers[again], head_sha=again))
            broker.send(EVALUATION_JOBS, job.to_json())
        wait_for(lambda: quiet(vhost), 120, "the redelivered evaluation and its build done", flow)
        time.sleep(2)  # a write the last message began is in the call record
        assert quiet(vhost)
        depths = queue_depths(vhost)

    assert {name: count for name, count in depths.items() if name.endswith(".dead") and count} == {}
    runs = fake_github.state.check_runs(TEST_REPO)
    assert Counter((run["head_sha"], run["name"]) for run in runs) == Counter({(head, RUN): 1 for head in heads})
    assert all(run["conclusion"] == "success" for run in runs)
    for run_id, history in run_histories(fake_github, heads).items():
        stages = [Stage.of(status) for status in history]
        assert stages == sorted(stages), (run_id, history)
    for head in heads:
        outcomes = [s["state"] for s in fake_github.state.statuses(TEST_REPO, head) if s["state"] != "pending"]
        assert outcomes == ["success"], (numbers[head], outcomes)

    counts = writes_per_pr(fake_github, numbers)
    assert len(counts) == PRS
    assert max(c["labels"] for c in counts.values()) == 1
    assert max(c["check runs"] for c in counts.values()) <= 3
    # A quick evaluation writes its outcome alone; one slowed by the load shows a lasting step.
    assert sum(c["statuses"] for c in counts.values()) <= 2 * PRS
    total: Counter[str] = sum(counts.values(), Counter())
    print(f"writes per PR over {PRS} PRs:", {kind: round(n / PRS, 2) for kind, n in sorted(total.items())})
