"""A pull request from webhook to check runs: the whole fleet, each worker its own process.

A signed `pull_request` webhook goes into the real receiver; evaluation-filter,
mass-rebuilder, builder and github-comment-poster run as `tickborg <name>`
processes against the machine's RabbitMQ; the repository is a real local git
origin with `refs/pull/N/head`; the builds are real; GitHub is the fake server.
"""

from __future__ import annotations

import time

from support.whole_fleet import MONOREPO, PR, Flow
from support.process import wait_until
from tickborg.fakegithub.testing import TEST_REPO


def test_a_pull_request_gets_its_eval_status_labels_and_completed_check_runs(flow: Flow) -> None:
    title = "libfoo: make it faster"
    head = flow.create_pr({"libfoo/Makefile": MONOREPO["libfoo/Makefile"] + "# faster\n"}, title)
    flow.announce(head, title)
    wait_until(lambda: flow.completed(head, "libfoo on x86_64-linux"), timeout=120)
    runs = flow.runs(head)
    assert set(runs) == {"libfoo on x86_64-linux"}  # only the touched project
    assert runs["libfoo on x86_64-linux"]["conclusion"] == "success"
    assert runs["libfoo on x86_64-linux"]["details_url"] == f"http://logs.example/?key={TEST_REPO}.{PR}"
    states = flow.eval_states(head)
    assert states == ["success"], states  # a quick evaluation writes its outcome alone
    assert "project: libfoo" in flow.fake.state.labels(TEST_REPO, PR)
    # The run moved queued → (in_progress, unless the build beat the start's delay) → completed, never backwards.
    assert flow.run_moves() in (["queued", "completed"], ["queued", "in_progress", "completed"])


def test_a_wip_pull_request_schedules_nothing(flow: Flow) -> None:
    title = "WIP: libfoo rework"
    head = flow.create_pr({"libfoo/x.c": "int x;\n"}, title)
    flow.announce(head, title)
    wait_until(lambda: flow.eval_states(head)[-1:] == ["success"], timeout=60)
    assert flow.runs(head) == {}


def test_a_pull_request_closed_before_its_evaluation_is_skipped(flow: Flow) -> None:
    title = "libfoo: closed meanwhile"
    head = flow.create_pr({"libfoo/x.c": "int x;\n"}, title, state="closed")
    flow.announce(head, title)  # opened, as the webhook says; closed by the time it is evaluated
    wait_until(lambda: any(c.method == "GET" and c.path.endswith(f"/issues/{PR}") for c in flow.fake.calls), 60)
    time.sleep(2)
    assert "success" not in flow.eval_states(head) and flow.runs(head) == {}


def test_a_merge_conflict_fails_the_eval_status(flow: Flow) -> None:
    title = "docs: readme"
    head = flow.create_pr({"README.md": "# changed in the PR\n"}, title)
    flow.origin.commit("main", {"README.md": "# changed on main\n"}, "main moves on")
    flow.announce(head, title)
    wait_until(lambda: flow.eval_states(head)[-1:] == ["failure"], timeout=60)
    assert flow.runs(head) == {}
