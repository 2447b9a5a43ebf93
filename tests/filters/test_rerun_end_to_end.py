"""github-rerun-filter end to end: a signed check_run/check_suite webhook → the receiver →
`check-run-inputs` → the filter process (real client, fake GitHub) → the builder
queues and `build-results`, on the real RabbitMQ."""

from __future__ import annotations

import time

import pytest

from filter_payloads import PR_NUMBER, check_run, check_suite, external_id
from fleet import GARBAGE, Fleet
from tickborg.fakegithub import FakeGitHub
from tickborg.fakegithub.faults import Fault, bad_credentials, rate_limited, server_error
from tickborg.fakegithub.testing import TEST_APP_ID, TEST_REPO
from tickborg.topology import BUILD_RESULTS_QUEUE, RERUN_INPUTS, build_queue, dead_queue

pytestmark = pytest.mark.broker

HEAD_SHA = "5eed" + "0" * 36
PULL_PATH = f"/repos/{TEST_REPO}/pulls/{PR_NUMBER}"
RUNS_PATH = f"/repos/{TEST_REPO}/commits/{HEAD_SHA}/check-runs"
X86, ARM = "x86_64-linux", "aarch64-linux"


def add_pull_request(fake: FakeGitHub, state: str = "open") -> None:
    fake.state.add_pull_request(TEST_REPO, PR_NUMBER, head_sha=HEAD_SHA, base_ref="main", state=state)


def expect_rerun(fleet: Fleet, system: str, projects: list[str]) -> None:
    """The BuildJob for `system`'s builders, then the QueuedBuildJobs announcing it."""
    job = fleet.message(build_queue(system))
    assert job["pr"] == {"target_branch": "main", "number": PR_NUMBER, "head_sha": HEAD_SHA}
    assert job["attrs"] == projects
    assert fleet.message(BUILD_RESULTS_QUEUE) == {"job": job, "architectures": [system]}


def assert_nothing_else(fleet: Fleet) -> None:
    for queue in (build_queue(X86), build_queue(ARM), BUILD_RESULTS_QUEUE, dead_queue(RERUN_INPUTS)):
        assert fleet.broker.count(queue) == 0, queue


def test_a_check_run_re_run_schedules_the_same_build(github_fleet: Fleet, fake_github: FakeGitHub) -> None:
    add_pull_request(fake_github)
    fleet = github_fleet
    with fleet.run("github-rerun-filter") as process:
        fleet.broker.send(RERUN_INPUTS, GARBAGE)
        payload = check_run(system=ARM, projects=("libfoo", "app"), app_id=TEST_APP_ID, head_sha=HEAD_SHA)
        assert fleet.post("check_run", payload) == f"check_run.{TEST_REPO}"
        expect_rerun(fleet, ARM, ["app", "libfoo"])
        fleet.assert_garbage_dead_lettered(RERUN_INPUTS)
        assert process.poll() is None
    assert_nothing_else(fleet)


def test_a_check_suite_re_run_schedules_each_of_our_runs(github_fleet: Fleet, fake_github: FakeGitHub) -> None:
    add_pull_request(fake_github)
    for system, projects in ((X86, ["libfoo"]), (ARM, ["app", "libfoo"])):
        name = f"{', '.join(projects)} on {system}"
        fake_github.state.create_check_run(
            TEST_REPO, {"name": name, "head_sha": HEAD_SHA, "external_id": external_id(system, projects)}
        )
    # A run with an external_id we did not write is not re-run.
    fake_github.state.create_check_run(TEST_REPO, {"name": "lint", "head_sha": HEAD_SHA, "external_id": "lint-7"})
    fleet = github_fleet
    with fleet.run("github-rerun-filter"):
        fleet.post("check_suite", check_suite(app_id=TEST_APP_ID, head_sha=HEAD_SHA))
        jobs = [fleet.message(build_queue(X86)), fleet.message(build_queue(ARM))]
        queued = [fleet.message(BUILD_RESULTS_QUEUE), fleet.message(BUILD_RESULTS_QUEUE)]
    assert [job["attrs"] for job in jobs] == [["libfoo"], ["app", "libfoo"]]
    assert sorted((q["architectures"], q["job"]["attrs"]) for q in queued) == [
        ([ARM], ["app", "libfoo"]),
        ([X86], ["libfoo"]),
    ]
    assert {job["pr"]["head_sha"] for job in jobs} == {HEAD_SHA}
    (listing,) = fake_github.calls_to("GET", RUNS_PATH)
    assert listing.query["app_id"] == [str(TEST_APP_ID)]
    assert_nothing_else(fleet)


def test_re_runs_that_must_do_nothing(github_fleet: Fleet, fake_github: FakeGitHub) -> None:
    add_pull_request(fake_github)
    fake_github.state.add_pull_request(TEST_REPO, 18, head_sha=HEAD_SHA, state="closed")
    fleet = github_fleet
    ignored = [
        check_run(app_id=TEST_APP_ID + 1, head_sha=HEAD_SHA),  # another App's run
        check_run(app_id=TEST_APP_ID, head_sha=HEAD_SHA, ext_id="build-7"),  # not our external_id
        check_run(app_id=TEST_APP_ID, head_sha=HEAD_SHA, prs=(18,)),  # closed PR
        check_run(app_id=TEST_APP_ID, head_sha=HEAD_SHA, full_name="someone/else"),  # not in repos
        check_run(app_id=TEST_APP_ID, head_sha=HEAD_SHA, system=ARM, sender="bob"),  # untrusted, non-primary
        check_suite(app_id=TEST_APP_ID + 1, head_sha=HEAD_SHA),  # another App's suite
    ]
    with fleet.run("github-rerun-filter"):
        for payload in ignored:
            fleet.post("check_suite" if "check_suite" in payload else "check_run", payload)
        # One consumer with prefetch 1 takes them in order: once this one is out, they are all done.
        fleet.post("check_run", check_run(app_id=TEST_APP_ID, head_sha=HEAD_SHA, sender="bob"))
        expect_rerun(fleet, X86, ["libfoo"])
    assert_nothing_else(fleet)
    assert [call.status for call in fake_github.calls_to("GET", f"/repos/{TEST_REPO}/pulls/18")] == [200]


@pytest.mark.parametrize(
    ("fault", "times", "path"),
    [
        # The client retries a 401 once with a new token; a second 401 is ExpiredCreds.
        (bad_credentials(), 2, PULL_PATH),
        (server_error(502), 1, PULL_PATH),
        (rate_limited(403, reset_in=2), 1, PULL_PATH),
        (server_error(503), 1, RUNS_PATH),
    ],
    ids=["401", "502", "rate-limit", "listing-503"],
)
def test_a_failed_lookup_is_retried_then_completes(
    fault: Fault, times: int, path: str, github_fleet: Fleet, fake_github: FakeGitHub
) -> None:
    add_pull_request(fake_github)
    fake_github.state.create_check_run(
        TEST_REPO, {"name": "libfoo on x86_64-linux", "head_sha": HEAD_SHA, "external_id": external_id(X86, ["libfoo"])}
    )
    fake_github.fail(fault, "GET", path, times=times)
    fleet = github_fleet
    with fleet.run("github-rerun-filter"):
        started = time.monotonic()
        fleet.post("check_suite", check_suite(app_id=TEST_APP_ID, head_sha=HEAD_SHA))
        expect_rerun(fleet, X86, ["libfoo"])
        elapsed = time.monotonic() - started
    assert [call.status for call in fake_github.calls_to("GET", path)] == [fault.status] * times + [200]
    assert_nothing_else(fleet)
    if fault.reset_in is not None:
        assert elapsed >= 1.0  # not before the reset (2 s ahead, in whole seconds)
